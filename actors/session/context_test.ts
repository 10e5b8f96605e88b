import assert from "node:assert/strict";
import { approxTokenCounter } from "./compression/tokens.ts";
import type { ContextMessage } from "./compression/types.ts";
import { promptJson, promptMessages, type SessionContext, toolsTokens } from "./context.ts";
import type { ChatMessage } from "./messages.ts";

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
  // Remembered per counter and per definitions: the same tools again count the same, another
  // counter counts them its own way, and other tools are counted afresh.
  assert.equal(toolsTokens([tool("read_file")], count), one);
  let calls = 0;
  const fixed = () => (calls++, 7);
  assert.equal(toolsTokens([tool("read_file")], fixed), 7);
  assert.equal(toolsTokens([tool("read_file")], fixed), 7);
  assert.equal(calls, 1);
  assert.equal(toolsTokens([tool("grep")], fixed), 7);
  assert.equal(calls, 2);
});

function entry(message: ChatMessage, turn = 1): ContextMessage {
  return { message, tokens: 1, origin: { kind: "original", turn, index: 0 } };
}

function emptyContext(system: ContextMessage[]): SessionContext {
  return {
    versionstamp: "0",
    compaction: 0,
    baseTurn: 1,
    loadedTo: 1,
    system,
    items: [],
    summaries: [],
  };
}

Deno.test("promptJson() writes what JSON.stringify writes of the prompt, turn after turn", () => {
  const user = (text: string) => entry({ role: "user", content: text });
  const reply = entry({
    role: "assistant",
    content: null,
    tool_calls: [{ id: "c1", type: "function", function: { name: "f", arguments: '{"a":"\\n"}' } }],
  });
  for (const system of [[], [entry({ role: "system", content: 'Be "brief".' }, 0)]]) {
    const context = emptyContext(system);
    const same = (input: ContextMessage[]) =>
      assert.equal(promptJson(context, input), JSON.stringify(promptMessages(context, input)));
    same([]);
    same([user("first")]);
    // Turns append to the context; what was kept serialized is extended, never stale.
    context.items.push(user("first"), reply);
    same([user("second"), user("ünïcödé \u2028")]);
    context.items.push(user("second"));
    same([]);
    same([user("third")]);
    // Other items (as after a compaction) are serialized afresh, shorter or not.
    context.items = [user("summary")];
    same([user("fourth")]);
    context.items = [user("a"), user("b"), user("c"), user("d")];
    same([user("fifth")]);
    // A long session's history, kept and extended turn after turn.
    for (let i = 0; i < 40; i++) context.items.push(user(`${"long message ".repeat(10)}${i} ✓`));
    same([user("sixth")]);
  }
});
