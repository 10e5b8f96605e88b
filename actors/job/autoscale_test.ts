import assert from "node:assert/strict";
import { type AutoscalePolicy, decideScale, leastUseful, type ReplicaLoad } from "./autoscale.ts";

const policy: AutoscalePolicy = {
  min: 1,
  max: 3,
  targetWaiting: 4,
  targetKvUsage: 0.8,
  cooldownMs: 60_000,
};

function replica(replica: number, waiting: number, kvUsage = 0.1, sessions = 0): ReplicaLoad {
  return { replica, waiting, kvUsage, inFlight: 0, sessions };
}

Deno.test("decideScale() grows when requests wait above the target, and says why", () => {
  const d = decideScale(
    { desired: 1, replicas: [replica(0, 9)], queued: 0, lastChangeMs: undefined },
    policy,
    0,
  );
  assert.equal(d.desired, 2);
  assert.match(d.reason, /^scale up: 9\.0 waiting per replica \(target 4\)/);
});

Deno.test("decideScale() grows on KV usage alone, and counts the gateway's queue", () => {
  assert.equal(
    decideScale(
      {
        desired: 2,
        replicas: [replica(0, 0, 0.95), replica(1, 0, 0.9)],
        queued: 0,
        lastChangeMs: undefined,
      },
      policy,
      0,
    ).desired,
    3,
  );
  assert.equal(
    decideScale(
      { desired: 1, replicas: [replica(0, 0)], queued: 10, lastChangeMs: undefined },
      policy,
      0,
    ).desired,
    2,
  );
});

Deno.test("decideScale() never goes above max or below min", () => {
  const atMax = decideScale(
    {
      desired: 3,
      replicas: [replica(0, 50), replica(1, 50), replica(2, 50)],
      queued: 0,
      lastChangeMs: undefined,
    },
    policy,
    0,
  );
  assert.equal(atMax.desired, 3);
  assert.match(atMax.reason, /already at max 3/);
  const atMin = decideScale(
    { desired: 1, replicas: [replica(0, 0, 0)], queued: 0, lastChangeMs: undefined },
    policy,
    0,
  );
  assert.equal(atMin.desired, 1);
  assert.equal(
    decideScale({ desired: 0, replicas: [], queued: 0, lastChangeMs: undefined }, policy, 0)
      .desired,
    1,
  );
  assert.equal(
    decideScale({ desired: 7, replicas: [], queued: 0, lastChangeMs: undefined }, policy, 0)
      .desired,
    3,
  );
});

Deno.test("decideScale() holds still within the cooldown", () => {
  const d = decideScale(
    { desired: 1, replicas: [replica(0, 40)], queued: 0, lastChangeMs: 10_000 },
    policy,
    40_000,
  );
  assert.equal(d.desired, 1);
  assert.match(d.reason, /cooldown: 30 s left/);
  assert.equal(
    decideScale(
      { desired: 1, replicas: [replica(0, 40)], queued: 0, lastChangeMs: 10_000 },
      policy,
      70_000,
    ).desired,
    2,
  );
});

Deno.test("decideScale() shrinks only well below the targets (hysteresis), draining the replica with the fewest cached sessions", () => {
  // Between the low water and the target: steady.
  const middle = decideScale(
    { desired: 2, replicas: [replica(0, 3), replica(1, 3)], queued: 0, lastChangeMs: undefined },
    policy,
    0,
  );
  assert.equal(middle.desired, 2);
  assert.match(middle.reason, /^steady/);
  // Quiet, but one fewer replica would be over the target: steady.
  const crowded = decideScale(
    {
      desired: 2,
      replicas: [replica(0, 2, 0.1), replica(1, 2.5, 0.1)],
      queued: 0,
      lastChangeMs: undefined,
    },
    policy,
    0,
  );
  assert.equal(crowded.desired, 2);
  const down = decideScale(
    {
      desired: 3,
      replicas: [replica(0, 0, 0.1, 12), replica(1, 1, 0.1, 3), replica(2, 0, 0.1, 8)],
      queued: 0,
      lastChangeMs: undefined,
    },
    policy,
    0,
  );
  assert.equal(down.desired, 2);
  assert.equal(down.drain, 1);
  assert.match(down.reason, /draining replica 1 \(3 cached sessions\)/);
});

Deno.test("decideScale() waits for a first scrape before deciding on load", () => {
  const d = decideScale(
    {
      desired: 2,
      replicas: [{ replica: 0, waiting: undefined, kvUsage: undefined, inFlight: 0, sessions: 0 }],
      queued: 0,
      lastChangeMs: undefined,
    },
    policy,
    0,
  );
  assert.equal(d.desired, 2);
  assert.match(d.reason, /no healthy replica has reported/);
});

Deno.test("leastUseful() breaks ties by in-flight requests, then by the highest index", () => {
  assert.equal(
    leastUseful([
      { ...replica(0, 0, 0, 2), inFlight: 1 },
      { ...replica(1, 0, 0, 2), inFlight: 0 },
      { ...replica(2, 0, 0, 2), inFlight: 0 },
    ])?.replica,
    2,
  );
  assert.equal(leastUseful([]), undefined);
});
