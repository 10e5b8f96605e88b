import { startReplicas } from "./setup.ts";
import { replayTrace } from "./replay.ts";
import { parseTrace, promptText } from "./trace.ts";
const trace = parseTrace(await Deno.readTextFile("/work/shared/traces/mooncake-synthetic.jsonl"))
  .slice(0, 400);
let t0 = performance.now();
for (const r of trace) promptText(r, { blockChars: 2048, charsPerToken: 4, templateChars: 100 });
console.log("promptText per request ms", (performance.now() - t0) / trace.length);
const sims = await startReplicas(4, { timeScale: 10, model: "llama-3.1-8b-sim" });
try {
  // isolated requests, spaced 1 s apart
  const iso = trace.slice(0, 8).map((r, i) => ({ ...r, timestamp: i * 10000 }));
  const r = await replayTrace(iso, {
    target: { kind: "direct", urls: sims.urls.slice(0, 1), seed: 1 },
    model: "llama-3.1-8b-sim",
    timeScale: 10,
  });
  for (const x of r.requests) {
    console.log(
      trace[x.index]!.input_length,
      trace[x.index]!.output_length,
      x.ttftMs?.toFixed(1),
      x.e2eMs?.toFixed(1),
    );
  }
} finally {
  await sims.stop();
}
