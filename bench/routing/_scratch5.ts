import { startGateway, startReplicas } from "./setup.ts";
import { replayTrace } from "./replay.ts";
import { summarize } from "./stats.ts";
import type { TraceRequest } from "./trace.ts";
const n = Number(Deno.args[0] ?? 200);
const sims = await startReplicas(4, { timeScale: 10, model: "llama-3.1-8b-sim" });
const dir = await Deno.makeTempDir();
const gw = await startGateway(sims.urls, {
  strategy: "round_robin",
  model: "llama-3.1-8b-sim",
  timeScale: 10,
  dir,
});
try {
  const trace: TraceRequest[] = Array.from(
    { length: n },
    (_, i) => ({ timestamp: i * Number(Deno.args[2] ?? 5), input_length: Number(Deno.args[1] ?? 200), output_length: 150, hash_ids: Array.from({ length: Math.ceil(Number(Deno.args[1] ?? 200) / 512) }, (_, k) => i * 1000 + k) }),
  );
  for (
    const target of [{ kind: "direct" as const, urls: sims.urls, seed: 1 }, {
      kind: "gateway" as const,
      url: gw.url,
    }]
  ) {
    const r = await replayTrace(trace, { target, model: "llama-3.1-8b-sim", timeScale: 1 });
    console.log(
      target.kind,
      "dur",
      r.durationMs.toFixed(0),
      "ttft",
      summarize(r.requests.map((x) => x.ttftMs!)).mean.toFixed(1),
      "e2e",
      summarize(r.requests.map((x) => x.e2eMs!)).mean.toFixed(1),
      "itl p50/p99",
      summarize(r.itlMs).p50.toFixed(1),
      summarize(r.itlMs).p99.toFixed(1),
    );
  }
} finally {
  await gw.stop();
  await sims.stop();
  await Deno.remove(dir, { recursive: true });
}
