import * as assert from "node:assert/strict";
import { AttainedService } from "./attained.ts";

Deno.test("attained service adds up per key and halves every half-life", () => {
  const clock = { now: 0 };
  const attained = new AttainedService({ halfLifeMs: 1000, now: () => clock.now });
  attained.charge("s1", 300);
  attained.charge("s1", 100);
  assert.equal(attained.of("s1"), 400);
  assert.equal(attained.of("unknown"), 0);
  clock.now = 1000;
  assert.equal(attained.of("s1"), 200);
  attained.charge("s1", 50);
  clock.now = 2000;
  assert.equal(attained.of("s1"), 125);
});

Deno.test("the map keeps at most its capacity, forgetting the least recently charged key", () => {
  const attained = new AttainedService({ capacity: 2, now: () => 0 });
  attained.charge("a", 1);
  attained.charge("b", 2);
  attained.charge("a", 1);
  attained.charge("c", 3);
  assert.equal(attained.size, 2);
  assert.equal(attained.of("b"), 0, "b was charged least recently");
  assert.equal(attained.of("a"), 2);
  assert.equal(attained.of("c"), 3);
});
