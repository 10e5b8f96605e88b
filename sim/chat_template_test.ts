import { assert } from "./_assert.ts";
import { renderChat, renderCompletion } from "./chat_template.ts";

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
