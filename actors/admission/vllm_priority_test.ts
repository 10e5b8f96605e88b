import * as assert from "node:assert/strict";
import { withVllmPriority } from "./vllm_priority.ts";

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const bytes = (s: string) => new TextEncoder().encode(s);

Deno.test("withVllmPriority() adds the field as the last member, so it wins over a client's own", () => {
  assert.deepEqual(JSON.parse(text(withVllmPriority(bytes('{"model":"m"}'), 2))), {
    model: "m",
    priority: 2,
  });
  const spliced = text(withVllmPriority(bytes('{"model":"m","priority":-5}\n  '), 1));
  assert.equal(spliced, '{"model":"m","priority":-5,"priority":1}');
  assert.equal(JSON.parse(spliced).priority, 1);
  assert.equal(text(withVllmPriority(bytes("{ }"), 0)), '{ "priority":0}');
});

Deno.test("withVllmPriority() leaves a body that is not an object as it is", () => {
  const body = bytes("[1,2]");
  assert.equal(withVllmPriority(body, 1), body);
});
