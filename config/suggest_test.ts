import assert from "node:assert/strict";
import { closest, editDistance } from "./suggest.ts";

Deno.test("editDistance() counts insertions, deletions, substitutions and swaps as one edit each", () => {
  assert.equal(editDistance("port", "port"), 0);
  assert.equal(editDistance("prot", "port"), 1);
  assert.equal(editDistance("replica", "replicas"), 1);
  assert.equal(editDistance("replicass", "replicas"), 1);
  assert.equal(editDistance("rexlicas", "replicas"), 1);
  assert.equal(editDistance("", "abc"), 3);
  assert.equal(editDistance("kitten", "sitting"), 3);
});

Deno.test("closest() suggests a likely typo and nothing for an unrelated word", () => {
  const keys = ["port", "host", "strategy", "request_timeout"];
  assert.equal(closest("prot", keys), "port");
  assert.equal(closest("stratgey", keys), "strategy");
  assert.equal(closest("Request-Timeout", keys), "request_timeout");
  assert.equal(closest("banana", keys), undefined);
  assert.equal(closest("x", []), undefined);
});
