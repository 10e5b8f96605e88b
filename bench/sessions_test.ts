import { deepStrictEqual as assertEquals, ok as assert, throws } from "node:assert/strict";
import { UsageError } from "../config/mod.ts";
import { CACHE_POLICIES, parseSessionsArgs, sessionVerdicts } from "./sessions.ts";
import type { AgentRun } from "./sessions/agent.ts";
import { answerMessage, filler, toolOutput, userText } from "./sessions/text.ts";
import { hitRate, mbPer10k, medianOf, passFail } from "./sessions/verdicts.ts";
import { trimWindow } from "./sessions/window.ts";

type M = { role: string; tokens: number };
const count = { countMessage: (m: M) => m.tokens };

Deno.test("trimWindow() keeps the newest messages that fit and drops the oldest first", () => {
  const system = [{ role: "system", tokens: 10 }];
  const history = [
    { role: "user", tokens: 40 },
    { role: "assistant", tokens: 40 },
    { role: "user", tokens: 40 },
    { role: "assistant", tokens: 40 },
  ];
  const window = trimWindow(system, history, 100, count);
  assertEquals(window.dropped, 2);
  assertEquals(window.messages, [system[0], history[2], history[3]]);
  assertEquals(trimWindow(system, history, 1_000, count).dropped, 0);
});

Deno.test("trimWindow() never starts at a tool result whose call was dropped", () => {
  const history = [
    { role: "user", tokens: 10 },
    { role: "assistant", tokens: 10 },
    { role: "tool", tokens: 10 },
    { role: "tool", tokens: 10 },
    { role: "user", tokens: 5 },
    { role: "assistant", tokens: 5 },
  ];
  // 25 tokens would fit the second tool result too, but not the call it answers.
  const window = trimWindow([], history, 25, count);
  assertEquals(window.messages.map((m) => m.role), ["user", "assistant"]);
  assertEquals(window.dropped, 4);
});

Deno.test("trimWindow() leaves out at least minDropped messages, up to the newest user message", () => {
  const history = [
    { role: "user", tokens: 1 },
    { role: "assistant", tokens: 1 },
    { role: "user", tokens: 1 },
    { role: "assistant", tokens: 1 },
  ];
  assertEquals(trimWindow([], history, 100, { ...count, minDropped: 1 }).dropped, 1);
  assertEquals(trimWindow([], history, 100, { ...count, minDropped: 9 }).dropped, 2);
});

Deno.test("trimWindow() keeps the newest user message onward even over the window", () => {
  const history = [
    { role: "user", tokens: 10 },
    { role: "user", tokens: 500 },
    { role: "assistant", tokens: 500 },
  ];
  const window = trimWindow([{ role: "system", tokens: 5 }], history, 100, count);
  assertEquals(window.dropped, 1);
  assertEquals(window.messages.length, 3);
});

Deno.test("answerMessage() joins an SSE answer's text and tool-call deltas", () => {
  const events = [
    { choices: [{ delta: { role: "assistant", content: "" } }] },
    { choices: [{ delta: { content: "Let me " } }] },
    { choices: [{ delta: { content: "look." } }] },
    {
      choices: [{
        delta: {
          tool_calls: [{ index: 0, id: "call-1", function: { name: "grep", arguments: '{"pa' } }],
        },
      }],
    },
    { choices: [{ delta: { tool_calls: [{ index: 0, function: { arguments: 'ttern":1}' } }] } }] },
    { choices: [], usage: { prompt_tokens: 9 } },
  ];
  const body = events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join("") + "data: [DONE]\n\n";
  assertEquals(answerMessage(body, true), {
    content: "Let me look.",
    toolCalls: [{
      id: "call-1",
      type: "function",
      function: { name: "grep", arguments: '{"pattern":1}' },
    }],
  });
  const json = JSON.stringify({ choices: [{ message: { role: "assistant", content: "ok" } }] });
  assertEquals(answerMessage(json, false), { content: "ok", toolCalls: [] });
});

Deno.test("the benchmark's texts are deterministic and as long as asked", () => {
  assertEquals(filler(3, 200), filler(3, 200));
  assert(filler(3, 200) !== filler(4, 200));
  assertEquals(userText(1, 2, 400).length, 400);
  assert(userText(1, 2, 400).startsWith("Task 1.2: "));
  assertEquals(toolOutput(7, 1_600).length, 1_600);
});

Deno.test("verdict arithmetic: medians, hit rates, MB per 10k sessions", () => {
  assertEquals(medianOf([3, NaN, 1, 2]), 2);
  assert(Number.isNaN(medianOf([])));
  assertEquals(hitRate({ queries: 100, hits: 50 }, { queries: 300, hits: 200 }), 0.75);
  assert(Number.isNaN(hitRate({ queries: 5, hits: 0 }, { queries: 5, hits: 0 })));
  assertEquals(mbPer10k(5e6, 5_000), 10);
  assertEquals([passFail(true), passFail(false), passFail(undefined)], ["PASS", "FAIL", "n/a"]);
});

Deno.test("sessionVerdicts() judges the worst overhead and the two cache policies", () => {
  const run = (label: number, hit: number) => ({ policy: CACHE_POLICIES[label]!, hitRate: hit });
  const cache = [run(0, 0.93), run(1, 0.12)] as unknown as AgentRun[];
  const v = sessionVerdicts([], undefined, cache);
  assertEquals(v.overhead, []);
  assertEquals(v.memory.met, undefined);
  assertEquals(v.cache.thresholdMet, true);
  assertEquals(v.cache.naiveMet, true);
});

Deno.test("parseSessionsArgs() has the full run's defaults and a short --quick", () => {
  const full = parseSessionsArgs([]);
  assertEquals(full.parts, ["overhead", "memory", "cache"]);
  assertEquals(full.overhead.concurrency, 64);
  assertEquals(full.overhead.thinkMs, [0, 200]);
  assertEquals(full.memory.sessions, 10_000);
  assertEquals(full.cache.turns, 200);
  const quick = parseSessionsArgs(["--quick", "--targets", "cache"]);
  assertEquals(quick.parts, ["cache"]);
  assertEquals(quick.cache.turns, 60);
  throws(() => parseSessionsArgs(["--targets", "speed"]), UsageError);
  throws(() => parseSessionsArgs(["--concurrency", "0"]), UsageError);
  assertEquals(full.overhead.gatewayCpus, "0");
  assertEquals(parseSessionsArgs(["--gateway-cpus", "0,1"]).overhead.gatewayCpus, "0,1");
  assertEquals(parseSessionsArgs(["--gateway-cpus", "0-1"]).overhead.gatewayCpus, "0-1");
  throws(() => parseSessionsArgs(["--gateway-cpus", "all"]), UsageError);
  throws(() => parseSessionsArgs(["--gateway-cpus", "0,"]), UsageError);
});
