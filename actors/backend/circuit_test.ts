import { deepStrictEqual as assertEquals } from "node:assert/strict";
import {
  circuitAllows,
  circuitFailed,
  circuitSucceeded,
  circuitTick,
  closedCircuit,
} from "./circuit.ts";

const options = { failureThreshold: 3, openMs: 1_000 };

Deno.test("a circuit opens after the threshold of consecutive failures", () => {
  let c = closedCircuit();
  c = circuitFailed(c, 10, options);
  c = circuitFailed(c, 20, options);
  assertEquals(c.phase, "closed");
  assertEquals(circuitAllows(c), true);
  c = circuitFailed(c, 30, options);
  assertEquals(c.phase, "open");
  assertEquals(c.openedAtMs, 30);
  assertEquals(circuitAllows(c), false);
});

Deno.test("a success between failures resets the count", () => {
  let c = circuitFailed(circuitFailed(closedCircuit(), 1, options), 2, options);
  c = circuitSucceeded(c);
  c = circuitFailed(circuitFailed(c, 3, options), 4, options);
  assertEquals(c.phase, "closed");
});

Deno.test("an open circuit turns half-open only after its wait", () => {
  let c = closedCircuit();
  for (let i = 0; i < 3; i++) c = circuitFailed(c, 100, options);
  assertEquals(circuitTick(c, 900, options).phase, "open");
  c = circuitTick(c, 1_100, options);
  assertEquals(c.phase, "half_open");
  assertEquals(circuitAllows(c), false);
});

Deno.test("a half-open circuit closes on success and reopens on one failure", () => {
  let c = closedCircuit();
  for (let i = 0; i < 3; i++) c = circuitFailed(c, 0, options);
  const half = circuitTick(c, 2_000, options);
  assertEquals(circuitSucceeded(half).phase, "closed");
  const reopened = circuitFailed(half, 2_500, options);
  assertEquals(reopened.phase, "open");
  assertEquals(reopened.openedAtMs, 2_500);
});
