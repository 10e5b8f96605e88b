import { startReplicas } from "./setup.ts";
import { replayTrace } from "./replay.ts";
import { parseTrace } from "./trace.ts";
import { summarize } from "./stats.ts";
const limit = Number(Deno.args[0] ?? 400);
const scale = Number(Deno.args[1] ?? 10);
const trace = parseTrace(await Deno.readTextFile("/work/shared/traces/mooncake-synthetic.jsonl"))
  .slice(0, limit);
const sims = await startReplicas(4, { timeScale: scale, model: "llama-3.1-8b-sim" });
try {
  const r = await replayTrace(trace, {
    target: { kind: "direct", urls: sims.urls, seed: 1 },
    model: "llama-3.1-8b-sim",
    timeScale: scale,
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
  for (const u of sims.urls) {
    const t = await (await fetch(u + "/metrics")).text();
    console.log(
      u,
      t.split("\n").filter((l) =>
        /time_to_first_token_seconds_(sum|count)|queue_time_seconds_(sum|count)|prefix_cache_(hits|queries)_total|preempt|lag/
          .test(l)
      ).join(" | "),
    );
  }
} finally {
  await sims.stop();
}
