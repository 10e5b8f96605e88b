import assert from "node:assert/strict";
import { readSnapshot } from "../actors/runtime/mod.ts";
import { Worker } from "../actors/runtime/testdata/child.ts";
import { withKvPath } from "../actors/runtime/testdata/temp_kv.ts";
import { seeded } from "../actors/runtime/testdata/seed.ts";
import { waitFor } from "../actors/runtime/testdata/wait.ts";

function withKvFile(fn: (path: string) => Promise<void>): Promise<void> {
  return withKvPath("turnpike-crash-", fn);
}

async function readState(path: string, kind: string, id: string): Promise<unknown> {
  const kv = await Deno.openKv(path);
  try {
    return (await readSnapshot(kv, { kind, id }))?.value;
  } finally {
    kv.close();
  }
}

for (const point of ["before_commit", "after_commit"] as const) {
  Deno.test(`a durable message whose process is killed ${point.replace("_", " ")} changes state once after restart`, async () => {
    await withKvFile(async (kv) => {
      const first = Worker.start(["--kv", kv, "--hang", point, "--add", "m1"]);
      try {
        await first.waitLine(
          point === "before_commit" ? /^BEFORE_COMMIT counter\/c m1$/ : /^COMMITTED counter\/c m1$/,
        );
      } finally {
        await first.kill("SIGKILL");
      }
      const committedBefore = point === "after_commit" ? 1 : 0;
      assert.equal(
        ((await readState(kv, "counter", "c")) as { count: number } | undefined)?.count ?? 0,
        committedBefore,
      );
      const second = Worker.start(["--kv", kv]);
      try {
        await second.waitLine(
          point === "before_commit" ? /^COMMITTED counter\/c m1$/ : /^DUPLICATE counter\/c m1$/,
          30_000,
        );
      } finally {
        await second.kill("SIGKILL");
      }
      const state = (await readState(kv, "counter", "c")) as { count: number; applied: string[] };
      assert.equal(state.count, 1);
      assert.deepEqual(state.applied, ["node-a:m1"]);
    });
  });
}

Deno.test("a durable timer scheduled before a SIGKILL fires once after restart", async () => {
  await withKvFile(async (kv) => {
    const first = Worker.start(["--kv", kv, "--timer", "1500"]);
    try {
      await first.waitLine(/^SCHEDULED 1500$/);
    } finally {
      await first.kill("SIGKILL");
    }
    const second = Worker.start(["--kv", kv]);
    try {
      const fired = await second.waitLine(/^FIRED (-?\d+)$/, 30_000);
      const lateMs = Number(fired[1]);
      console.log(`durable timer fired ${lateMs} ms after its due time (process killed before it)`);
      assert.ok(lateMs >= 0, "a timer never fires early");
      const state = await waitFor("the timer's commit", async () => {
        const s = (await readState(kv, "timer", "t")) as { fired: unknown[] } | undefined;
        return s && s.fired.length > 0 ? s : undefined;
      });
      // A graceful stop drains what was delivered: a second firing would be among its lines.
      await second.kill("SIGTERM");
      assert.equal(second.lines.filter((l) => l.startsWith("FIRED")).length, 1);
      assert.equal(state.fired.length, 1);
    } finally {
      await second.kill("SIGKILL");
    }
  });
});

Deno.test(
  "a snapshot larger than 64 KiB survives SIGKILL mid-write as wholly old or wholly new",
  seeded(async ({ random }) => {
    await withKvFile(async (kv) => {
      let lastVersion = 0;
      for (let round = 0; round < 3; round++) {
        const worker = Worker.start(["--kv", kv, "--blob"]);
        try {
          await worker.waitLine(/^COMMITTED blob\/b /, 30_000);
          await new Promise((r) => setTimeout(r, 100 + random() * 400));
        } finally {
          await worker.kill("SIGKILL");
        }
        const state = (await readState(kv, "blob", "b")) as { version: number; parts: string[] };
        assert.ok(
          state.version >= lastVersion,
          `version ${state.version} went back from ${lastVersion}`,
        );
        lastVersion = state.version;
        const fill = String.fromCharCode(97 + (state.version % 26));
        assert.equal(state.parts.length, 20);
        assert.ok(
          state.parts.every((p) => p === fill.repeat(10_000)),
          "every part is of one version",
        );
        const store = await Deno.openKv(kv);
        try {
          const header = await store.get<{ version: string; chunks: number; bytes: number }>([
            "actor",
            "blob",
            "b",
          ]);
          assert.ok((header.value?.bytes ?? 0) > 64 * 1024, "the snapshot is chunked");
          const versions = new Set<string>();
          for await (const c of store.list({ prefix: ["actor_chunk", "blob", "b"] })) {
            versions.add(String(c.key[3]));
          }
          assert.deepEqual(
            [...versions],
            [header.value?.version],
            "no chunks of another version remain",
          );
        } finally {
          store.close();
        }
      }
      assert.ok(lastVersion >= 2, "the actor committed several versions across the kills");
    });
  }),
);
