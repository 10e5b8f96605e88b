import { startReplicas } from "./setup.ts";
import { replayTrace } from "./replay.ts";
import { parseTrace } from "./trace.ts";
import { summarize } from "./stats.ts";
const limit = Number(Deno.args[0] ?? 400);
const scale = Number(Deno.args[1] ?? 10);
const trace = parseTrace(await Deno.readTextFile("/work/shared/traces/mooncake-synthetic.jsonl"))
  .slice(0, limit);
const sims = await startReplicas(4, { timeScale: scale, model: "llama-3.1-8b-sim" });
const cpu0 = Deno.osUptime ? 0 : 0;
let last = performance.now();
const lag: number[] = [];
const iv = setInterval(() => {
  const now = performance.now();
  lag.push(now - last - 100);
  last = now;
}, 100);
try {
  const r = await replayTrace(trace, {
    target: { kind: "direct", urls: sims.urls, seed: 1 },
    model: "llama-3.1-8b-sim",
    timeScale: scale,
    onProgress: (p) => {
      if (Math.random() < 0.05) {
        console.log(JSON.stringify(p), (performance.now() / 1000).toFixed(1));
      }
    },
  });
  const ok = r.requests.filter((x) => !x.error);
  console.log(
    "wall ttft",
    summarize(ok.map((x) => x.ttftMs!)),
    "dur",
    r.durationMs,
    "failed",
    r.requests.length - ok.length,
  );
  console.log("loadgen lag", summarize(lag));
} finally {
  clearInterval(iv);
  await sims.stop();
}
