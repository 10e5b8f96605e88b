import assert from "node:assert/strict";
import { approxTokenCounter } from "./compression/tokens.ts";
import { toolsTokens } from "./context.ts";

const count = approxTokenCounter.countMessage;
const tool = (name: string) => ({
  type: "function",
  function: { name, parameters: { type: "object", properties: { path: { type: "string" } } } },
});

Deno.test("toolsTokens() counts the definitions a request's tools write into the prompt", () => {
  assert.equal(toolsTokens(undefined, count), 0);
  assert.equal(toolsTokens([], count), 0);
  const one = toolsTokens([tool("read_file")], count);
  const two = toolsTokens([tool("read_file"), tool("write_file")], count);
  // Each definition is rendered as indented JSON, after a preamble written once.
  assert.ok(one > JSON.stringify(tool("read_file"), null, 4).length / 4, String(one));
  const second = Math.ceil((JSON.stringify(tool("write_file"), null, 4) + "\n\n").length / 4);
  assert.ok(Math.abs(two - one - second) <= 1, `${two} - ${one} vs ${second}`);
});
