/**
 * Records the request records the bottleneck rules are tested on: each scenario runs a real
 * gateway over simulated replicas (in process), drives it with the OpenAI SDK until its pattern
 * shows, and writes the gateway's records to `<scenario>.json` beside this file.
 *
 * Run: `deno run -A proxy/admin/bottlenecks/testdata/capture.ts [scenario...]`
 */
import OpenAI from "openai";
import { MODEL, type RigOptions, startRig } from "../../../../gateway/testing.ts";
import type { RequestRecord } from "../../../records.ts";

/** One scenario: the rig it runs on and the traffic it sends. */
interface Scenario {
  rig: RigOptions;
  drive(client: OpenAI): Promise<void>;
}

/** Runs `count` calls of `call` with `concurrency` at a time, the workers starting `staggerMs` apart. */
async function pool(
  count: number,
  concurrency: number,
  call: (i: number) => Promise<void>,
  staggerMs = 0,
) {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async (_, worker) => {
    await new Promise((resolve) => setTimeout(resolve, worker * staggerMs));
    while (next < count) await call(next++);
  }));
}

/** A streamed chat turn read to its end. */
async function streamed(
  client: OpenAI,
  content: string,
  maxTokens: number,
  headers: Record<string, string> = {},
) {
  const stream = await client.chat.completions.create({
    model: MODEL,
    messages: [{ role: "user", content }],
    max_tokens: maxTokens,
    stream: true,
  }, { headers });
  for await (const _ of stream) { /* read to the end */ }
}

const words = (n: number, seed: number) =>
  Array.from({ length: n }, (_, i) => `w${(i * 7919 + seed * 104_729) % 100_003}`).join(" ");

const SCENARIOS: Record<string, Scenario> = {
  /** One replica with room for 2 sequences and 16 agents at once: requests wait in its queue. */
  replica_queueing: {
    rig: { replicas: 1, sim: { maxNumSeqs: 2, timeScale: 5 }, admission: { enabled: false } },
    drive: (client) => pool(48, 16, (i) => streamed(client, `q ${i} ${words(50, i)}`, 40)),
  },
  /** Agents that spend seconds on their tools around every call (the timing headers). */
  agent_bound: {
    rig: { replicas: 2 },
    drive: (client) =>
      pool(12, 4, (i) =>
        streamed(client, `agent ${i} ${words(40, i)}`, 20, {
          "X-Session-ID": `agent-session-${i % 3}`,
          "X-Timing-Pre-Ms": String(1500 + i * 10),
          "X-Timing-Post-Ms": String(800 + i * 5),
        })),
  },
  /** Long prompts shared by nothing, short answers, spread round robin: prefill dominates, no prefix hits. */
  prefill_bound: {
    rig: { replicas: 2, proxy: { strategy: "round_robin" }, sim: { timeScale: 2 } },
    drive: (client) => pool(12, 2, (i) => streamed(client, words(6000, i + 1), 2)),
  },
  /** A small KV cache and long answers growing at once: usage near full and preemptions. */
  kv_pressure: {
    rig: { replicas: 1, sim: { kvTokens: 12_000, timeScale: 10 }, admission: { enabled: false } },
    drive: (client) => pool(60, 12, (i) => streamed(client, words(200, i), 1500)),
  },
  /**
   * Long answers at a batch above 64 on one replica: decode dominates at a high batch. The agents
   * start 25 ms apart, so most picks come while the replica's last scrape shows the batch running.
   */
  decode_bound: {
    rig: { replicas: 1, sim: { timeScale: 1 }, admission: { enabled: false } },
    drive: (client) => pool(320, 80, (i) => streamed(client, `d ${i}`, 300), 25),
  },
  /** Admission caps each replica at one request in flight: the rest wait in the gateway's queue. */
  gateway_queueing: {
    rig: {
      replicas: 1,
      sim: { timeScale: 5 },
      admission: { enabled: true, adaptive: false, max_in_flight_per_replica: 1 },
    },
    drive: (client) => pool(24, 8, (i) => streamed(client, `g ${i} ${words(30, i)}`, 60)),
  },
};

/** The fields of a record kept in the test data (ids shortened, the rest as recorded). */
function kept(record: RequestRecord, i: number): RequestRecord {
  return { ...record, requestId: `req-${i}` };
}

const names = Deno.args.length > 0 ? Deno.args : Object.keys(SCENARIOS);
for (const name of names) {
  const scenario = SCENARIOS[name];
  if (!scenario) throw new Error(`No scenario "${name}"; choose from ${Object.keys(SCENARIOS)}`);
  const rig = await startRig(scenario.rig);
  try {
    // Two scrapes first, so the records carry the replicas' figures since the scrape before.
    await new Promise((resolve) => setTimeout(resolve, 600));
    await scenario.drive(rig.client);
    const records = rig.gateway.records.recent().toReversed().map(kept);
    const path = new URL(`./${name}.json`, import.meta.url);
    // deno fmt's layout, so the files pass `deno fmt --check` as written.
    await Deno.writeTextFile(path, JSON.stringify(records, null, 2) + "\n");
    console.log(`${name}: ${records.length} records -> ${path.pathname}`);
  } finally {
    await rig.close();
  }
}
