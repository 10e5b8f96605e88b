import { assert, assertEquals } from "./_assert.ts";
import { pythonJson, renderChat, renderCompletion } from "./chat_template.ts";

Deno.test("renderChat() writes Llama 3.1's template with the system message first", () => {
  const text = renderChat([{ role: "system", content: "Be brief." }, {
    role: "user",
    content: "Hi",
  }]);
  assert(text.startsWith("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"));
  assert(
    text.includes("Be brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"),
  );
  assert(text.endsWith("<|start_header_id|>assistant<|end_header_id|>\n\n"));
});

Deno.test("a rendered turn is a prefix of the next turn rendered with the answer appended", () => {
  const first = [{ role: "user", content: "Hi" }];
  const next = [...first, { role: "assistant", content: "Hello" }, { role: "user", content: "Go" }];
  const prompt = renderChat(first);
  const following = renderChat(next);
  assert(following.startsWith(prompt + "Hello<|eot_id|>"));
});

Deno.test("renderCompletion() puts the beginning-of-text token before the prompt", () => {
  assert(renderCompletion("abc") === "<|begin_of_text|>abc");
});

Deno.test("renderChat() lists the tools in the first user message and writes calls as JSON", () => {
  const tool = { type: "function", function: { name: "f", parameters: { type: "object" } } };
  const call = { name: "f", arguments: '{"a":[1,{"b":true}]}' };
  const text = renderChat([
    { role: "system", content: "S" },
    { role: "user", content: "Q" },
    { role: "assistant", content: "", toolCalls: [call, { name: "g", arguments: "not json" }] },
    { role: "tool", content: "R" },
  ], { tools: [tool] });
  assert(text.includes("<|end_header_id|>\n\nEnvironment: ipython\nCutting Knowledge Date"));
  assert(text.includes(`${JSON.stringify(tool, null, 4)}\n\nQ<|eot_id|>`));
  assertEquals(text.split("<|start_header_id|>user").length, 2);
  assert(text.includes(
    'assistant<|end_header_id|>\n\n{"name": "f", "parameters": {"a": [1, {"b": true}]}}; ' +
      '{"name": "g", "parameters": not json}<|eot_id|>',
  ));
  assert(
    text.endsWith(
      "ipython<|end_header_id|>\n\nR<|eot_id|>" +
        "<|start_header_id|>assistant<|end_header_id|>\n\n",
    ),
  );
});

Deno.test("pythonJson() writes JSON with Python's separators", () => {
  assertEquals(pythonJson({ a: [1, "x"], b: {}, c: null }), '{"a": [1, "x"], "b": {}, "c": null}');
});
