import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { analyzeBottlenecks } from "./analyze.ts";
import { record } from "../../_record_fixture.ts";

/** An answered stream of 1 s: 800 ms of it the agent's own, the rest decode. */
function agentTurn(atMs: number, model = "m", sessionId = "s") {
  return record(atMs, {
    model,
    sessionId,
    stream: true,
    clientPreMs: 800,
    gatewayMs: 0,
    upstreamHeadMs: 0,
    upstreamTtftMs: 0,
    upstreamMs: 200,
  });
}

Deno.test("analyzeBottlenecks() keeps the window's records that match the filters and ranks the parts by share", () => {
  const records = [
    ...Array.from({ length: 6 }, (_, i) => agentTurn(10_000 + i)),
    agentTurn(1_000),
    agentTurn(10_000, "other", "t"),
  ];
  const body = analyzeBottlenecks(records, { windowS: 5, nowMs: 14_000, model: "m" });
  assertEquals([body.turns, body.wall_ms, body.filters.model], [6, 6000, "m"]);
  assertEquals(body.components.slice(0, 2).map((c) => [c.component, c.share]), [
    ["agent_pre", 0.8],
    ["decode", 0.2],
  ]);
  assertEquals(body.findings.map((f) => [f.rule, f.model]), [["agent_bound", "m"]]);
});

Deno.test("analyzeBottlenecks() lists no finding for a model with fewer than 5 answered turns", () => {
  const body = analyzeBottlenecks([agentTurn(0), agentTurn(1)], { windowS: 60, nowMs: 1000 });
  assertEquals([body.turns, body.findings], [2, []]);
});
