import assert from "node:assert/strict";
import { DEAD_LETTER_PREFIX } from "../actors/runtime/mod.ts";
import { readSnapshot } from "../actors/runtime/mod.ts";
import { Worker } from "../actors/runtime/testdata/child.ts";
import { seeded } from "../actors/runtime/testdata/seed.ts";
import { waitFor } from "../actors/runtime/testdata/wait.ts";

const ACTORS = 20;
const CYCLES = 4;
const MIN_ACKS_PER_CYCLE = 20;

/**
 * Jepsen-style: a set-append workload over many actors while the process is SIGKILLed every few
 * seconds, then a recovery phase; every acknowledged element must be present exactly once.
 */
Deno.test(
  "set-append under repeated SIGKILL keeps every acknowledged element exactly once",
  seeded(async ({ random }) => {
    const dir = await Deno.makeTempDir({ prefix: "turnpike-jepsen-" });
    const path = `${dir}/state.kv`;
    const acked = new Map<string, string>();
    try {
      for (let cycle = 0; cycle < CYCLES; cycle++) {
        const worker = Worker.start([
          "--kv",
          path,
          "--append",
          `i${cycle}`,
          "--actors",
          String(ACTORS),
          "--seed",
          String(Math.floor(random() * 2 ** 32)),
        ]);
        try {
          // Kill only once this incarnation has had acknowledgements (a loaded machine may start
          // it slowly), then at a random moment while appends and commits are in flight.
          await worker.waitLine(
            new RegExp(`^ACK \\d+ i${cycle}:${MIN_ACKS_PER_CYCLE - 1}$`),
            60_000,
          );
          await new Promise((r) => setTimeout(r, 500 + random() * 2_000));
        } finally {
          await worker.kill("SIGKILL");
        }
        for (const line of worker.lines) {
          const m = line.match(/^ACK (\d+) (\S+)$/);
          if (m) acked.set(m[2] as string, `set/${m[1]}`);
        }
      }
      assert.ok(
        acked.size >= CYCLES * MIN_ACKS_PER_CYCLE,
        `the workload ran (${acked.size} acknowledged)`,
      );

      const recovery = Worker.start(["--kv", path]);
      const kv = await Deno.openKv(path);
      try {
        const sets = await waitFor("every acknowledged element", async () => {
          const found = new Map<string, string[]>();
          for (let k = 0; k < ACTORS; k++) {
            const snap = await readSnapshot(kv, { kind: "set", id: String(k) });
            found.set(
              `set/${k}`,
              (snap?.value as { elements: string[] } | undefined)?.elements ?? [],
            );
          }
          const present = new Set([...found.values()].flat());
          return [...acked.keys()].every((v) => present.has(v)) ? found : undefined;
        }, { timeoutMs: 60_000, everyMs: 250 });
        const owner = new Map<string, string>();
        for (const [addr, elements] of sets) {
          for (const e of elements) {
            assert.ok(!owner.has(e), `${e} appears in ${owner.get(e)} and ${addr}`);
            owner.set(e, addr);
          }
          assert.equal(new Set(elements).size, elements.length, `${addr} holds no duplicate`);
        }
        for (const [value, addr] of acked) {
          assert.equal(owner.get(value), addr, `${value} is in ${addr}`);
        }
        const dead = [];
        for await (const entry of kv.list({ prefix: DEAD_LETTER_PREFIX })) dead.push(entry.key);
        assert.deepEqual(dead, [], "no message ran out of retries");
        console.log(
          `${acked.size} acknowledged appends over ${CYCLES} SIGKILLs, ${owner.size} present, all exactly once`,
        );
      } finally {
        kv.close();
        await recovery.kill("SIGTERM");
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }),
);
