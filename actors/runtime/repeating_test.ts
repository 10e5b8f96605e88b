import * as assert from "node:assert/strict";
import { Repeating } from "./repeating.ts";

Deno.test("Repeating runs its job again after each run ends, never two at once, goes on after a failure, and stop() ends it", async () => {
  let runs = 0;
  let running = 0;
  let overlapped = false;
  const repeat = new Repeating(async () => {
    overlapped ||= running > 0;
    running++;
    runs++;
    await new Promise((r) => setTimeout(r, 5));
    running--;
    if (runs === 2) throw new Error("a failed run");
  }, { intervalMs: 1, what: "run the test job", quietMs: 60_000 });
  repeat.start();
  const deadline = Date.now() + 10_000;
  while (runs < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  repeat.stop();
  assert.ok(runs >= 5, `${runs} runs`);
  assert.equal(overlapped, false);
  await new Promise((r) => setTimeout(r, 20));
  const after = runs;
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(runs, after, "no run after stop()");
});
