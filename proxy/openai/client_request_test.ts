import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { z } from "zod";
import { parseClientRequest, readBody } from "./client_request.ts";

const encoder = new TextEncoder();

function streamed(pieces: string[]): ReadableStream<Uint8Array> {
  return ReadableStream.from(pieces.map((p) => encoder.encode(p)));
}

Deno.test("readBody reads a body within the cap, declared or streamed", async () => {
  const declared = new Request("http://x/", { method: "POST", body: "hello" });
  assertEquals(new TextDecoder().decode(await readBody(declared, 5)), "hello");
  const chunked = new Request("http://x/", { method: "POST", body: streamed(["he", "llo"]) });
  assertEquals(new TextDecoder().decode(await readBody(chunked, 5)), "hello");
  assertEquals((await readBody(new Request("http://x/"), 5))?.byteLength, 0);
});

Deno.test("readBody refuses a body over the cap, whether declared or only counted", async () => {
  const declared = new Request("http://x/", { method: "POST", body: "too long" });
  assertEquals(await readBody(declared, 5), undefined);
  const chunked = new Request("http://x/", { method: "POST", body: streamed(["abc", "def"]) });
  assertEquals(await readBody(chunked, 5), undefined);
});

Deno.test("parseClientRequest refuses bad JSON, a schema miss and a large body in OpenAI's terms", async () => {
  const schema = z.looseObject({ model: z.string(), stream: z.boolean().optional() });
  const post = (body: string) => new Request("http://x/", { method: "POST", body });
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
