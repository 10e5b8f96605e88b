import assert from "node:assert/strict";
import { address, parseAddress } from "./address.ts";

Deno.test("address() joins kind and id, and parseAddress() splits at the first slash", () => {
  assert.equal(address("session", "abc/def"), "session/abc/def");
  assert.deepEqual(parseAddress("session/abc/def"), { kind: "session", id: "abc/def" });
});

Deno.test("address() and parseAddress() reject what is not kind/id", () => {
  assert.throws(() => address("a/b", "x"), /use a non-empty name without "\/"/);
  assert.throws(() => parseAddress("nokind"), /write it as "kind\/id"/);
});
