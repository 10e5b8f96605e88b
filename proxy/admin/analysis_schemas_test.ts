import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import {
  BottlenecksQuery,
  parseDurationS,
  RoutingChangeBody,
  SessionsQuery,
} from "./analysis_schemas.ts";

Deno.test("parseDurationS() reads seconds, minutes and hours, bare numbers as seconds", () => {
  assertEquals(
    ["90", "30s", "15m", "1h", "1.5m", " 2m "].map(parseDurationS),
    [90, 30, 900, 3600, 90, 120],
  );
  for (const bad of ["", "m", "15 m", "1d", "-5s", "1e3"]) {
    assertEquals(parseDurationS(bad), undefined);
  }
});

Deno.test("the analysis queries default the window to 15 minutes and bound it to 1 s .. 24 h", () => {
  assertEquals(BottlenecksQuery.parse({}), { window: 900, scope: "local" });
  assertEquals(SessionsQuery.parse({ limit: "5" }).limit, 5);
  assert(!BottlenecksQuery.safeParse({ window: "25h" }).success);
  assert(!BottlenecksQuery.safeParse({ window: "0" }).success);
  assert(!SessionsQuery.safeParse({ limit: "501" }).success);
});

Deno.test("RoutingChangeBody takes a strategy or weights, a share strictly between 0 and 1 and a window in seconds or text", () => {
  assertEquals(
    RoutingChangeBody.parse({
      model: "m",
      strategy: { prefix_aware: 2, least_load: 1 },
      canary_share: 0.25,
      canary_window: "2m",
    }),
    {
      model: "m",
      strategy: { prefix_aware: 2, least_load: 1 },
      canary_share: 0.25,
      canary_window: 120,
    },
  );
  for (
    const bad of [
      { strategy: "nope" },
      { strategy: "least_load", canary_share: 0 },
      { strategy: "least_load", canary_share: 1 },
      { strategy: "least_load", canary_window: 30 },
      { strategy: "least_load", canary_share: 0.5, canary_window: "soon" },
    ]
  ) {
    assert(!RoutingChangeBody.safeParse(bad).success, JSON.stringify(bad));
  }
});
