import assert from "node:assert/strict";
import { formatSlurmDuration, parseSlurmDuration } from "./duration.ts";

Deno.test("parseSlurmDuration() reads every form sbatch's --time takes", () => {
  assert.equal(parseSlurmDuration("30"), 30 * 60);
  assert.equal(parseSlurmDuration("30:00"), 30 * 60);
  assert.equal(parseSlurmDuration("5:07"), 5 * 60 + 7);
  assert.equal(parseSlurmDuration("04:00:00"), 4 * 3600);
  assert.equal(parseSlurmDuration("1-02"), 86_400 + 2 * 3600);
  assert.equal(parseSlurmDuration("1-02:03"), 86_400 + 2 * 3600 + 3 * 60);
  assert.equal(parseSlurmDuration("1-02:03:04"), 86_400 + 2 * 3600 + 3 * 60 + 4);
  assert.equal(parseSlurmDuration("UNLIMITED"), null);
  assert.equal(parseSlurmDuration("Partition_Limit"), null);
  assert.equal(parseSlurmDuration("INVALID"), undefined);
  assert.equal(parseSlurmDuration("4 hours"), undefined);
  assert.equal(parseSlurmDuration("1:2:3:4"), undefined);
});

Deno.test("formatSlurmDuration() writes what parseSlurmDuration() reads back", () => {
  assert.equal(formatSlurmDuration(4 * 3600), "04:00:00");
  assert.equal(formatSlurmDuration(93_784), "1-02:03:04");
  assert.equal(formatSlurmDuration(59), "00:00:59");
  for (const s of [0, 61, 3599, 86_399, 86_400, 200_000]) {
    assert.equal(parseSlurmDuration(formatSlurmDuration(s)), s);
  }
});
