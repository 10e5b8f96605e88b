import assert from "node:assert/strict";
import { ActorSystem } from "./mod.ts";
import { checkRetrySchedule, DEFAULT_RETRY_SCHEDULE_MS } from "./system_options.ts";
import { withKvPath } from "./testdata/temp_kv.ts";

Deno.test("checkRetrySchedule() takes at most five non-negative delays, as Deno KV does", () => {
  assert.deepEqual(checkRetrySchedule(DEFAULT_RETRY_SCHEDULE_MS), [
    100,
    1_000,
    5_000,
    30_000,
    60_000,
  ]);
  assert.deepEqual(checkRetrySchedule([]), []);
  assert.throws(() => checkRetrySchedule([1, 2, 3, 4, 5, 6]), /has 6 delays.*shorten it/);
  assert.throws(() => checkRetrySchedule([10, -1]), RangeError);
  assert.throws(() => checkRetrySchedule([Number.NaN]), RangeError);
});

Deno.test("ActorSystem.start() refuses a retry schedule that Deno KV would reject", async () => {
  await withKvPath("turnpike-options-", async (kvPath) => {
    await assert.rejects(
      ActorSystem.start({ kvPath, retryScheduleMs: [1, 1, 1, 1, 1, 1] }),
      /Deno KV takes at most 5/,
    );
  });
});
