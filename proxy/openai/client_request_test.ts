import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { z } from "zod";
import { parseClientRequest } from "./client_request.ts";
import { ChatCompletionBody } from "./schemas.ts";

const post = (body: BodyInit) => new Request("http://x/", { method: "POST", body });

Deno.test("parseClientRequest refuses bad JSON, a schema miss and a large body in OpenAI's terms", async () => {
  const schema = z.looseObject({ model: z.string(), stream: z.boolean().optional() });
  const options = { maxBytes: 64, schema };
  const ok = await parseClientRequest(post('{"model":"m","extra":1}'), options);
  assertEquals(ok.ok && [ok.body.model, ok.json, ok.bytes.byteLength], [
    "m",
    { model: "m", extra: 1 },
    23,
  ]);
  const codes = await Promise.all(
    ["{nope", '{"model":1}', JSON.stringify({ model: "x".repeat(80) })].map(async (body) => {
      const parsed = await parseClientRequest(post(body), options);
      return parsed.ok ? "ok" : [parsed.status, parsed.code, parsed.param];
    }),
  );
  assertEquals(codes, [[400, "invalid_json", null], [400, "invalid_request", "model"], [
    413,
    "request_too_large",
    null,
  ]]);
});

Deno.test("parseClientRequest names the field at fault the way OpenAI does", async () => {
  const options = { maxBytes: 1 << 20, schema: ChatCompletionBody };
  const refusal = async (body: string) => {
    const parsed = await parseClientRequest(post(body), options);
    return parsed.ok ? "ok" : [parsed.status, parsed.param];
  };
  const user = { role: "user", content: "hi" };
  assertEquals(
    await refusal(JSON.stringify({ model: "m", messages: [user, user, user, { role: "robot" }] })),
    [400, "messages[3].role"],
  );
  assertEquals(
    await refusal('{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":1e999}'),
    [
      400,
      "max_tokens",
    ],
  );
  assertEquals(await refusal(`{"model":"m","messages":${"[".repeat(100)}${"]".repeat(100)}}`), [
    400,
    null,
  ]);
  assertEquals(
    await refusal(
      JSON.stringify({ model: "m", messages: [user], top_k: 40, repetition_penalty: 1.1 }),
    ),
    "ok",
  );
});

Deno.test("parseClientRequest refuses a body that is not UTF-8 and keeps one with its own U+FFFD", async () => {
  const options = { maxBytes: 1 << 20, schema: ChatCompletionBody };
  const head = new TextEncoder().encode('{"model":"m","messages":[{"role":"user","content":"');
  const tail = new TextEncoder().encode('"}]}');
  const invalid = new Uint8Array([...head, 0xc3, 0x28, ...tail]);
  const bad = await parseClientRequest(post(invalid), options);
  assertEquals(bad.ok ? "ok" : [bad.status, bad.code], [400, "invalid_encoding"]);
  const replacement = new Uint8Array([...head, ...new TextEncoder().encode("\uFFFD"), ...tail]);
  const good = await parseClientRequest(post(replacement), options);
  assertEquals(good.ok, true);
});
