import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { UsageTap } from "./usage_tap.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

Deno.test("UsageTap reads usage from a JSON response", () => {
  const tap = new UsageTap(false);
  tap.push(
    bytes(
      '{"id":"x","choices":[],"usage":{"prompt_tokens":12,"total_tokens":19,"completion_tokens":7}}',
    ),
  );
  assertEquals(tap.result(), { promptTokens: 12, completionTokens: 7, source: "reported" });
});

Deno.test("UsageTap finds a usage object split across chunks", () => {
  const tap = new UsageTap(true);
  tap.push(
    bytes('data: {"choices":[{"delta":{"content":"a"}}],"usage":null}\n\ndata: {"choices":[],"usa'),
  );
  tap.push(bytes('ge":{"prompt_tokens":5,"comp'));
  tap.push(bytes('letion_tokens":3}}\n\ndata: [DONE]\n\n'));
  assertEquals(tap.result(), { promptTokens: 5, completionTokens: 3, source: "reported" });
});

Deno.test("UsageTap counts the text chunks of a stream when the replica sends no usage", () => {
  const tap = new UsageTap(true);
  tap.push(bytes('data: {"choices":[{"delta":{"role":"assistant","content":""}}]}\n\n'));
  tap.push(
    bytes(
      'data: {"choices":[{"delta":{"content":"a"}}]}\n\ndata: {"choices":[{"delta":{"content":"b"}}]}\n\n',
    ),
  );
  tap.push(bytes('data: {"choices":[{"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE] \n\n'));
  assertEquals(tap.result(), { promptTokens: undefined, completionTokens: 2, source: "counted" });
});

Deno.test("UsageTap reads a last usage event the stream ends without its blank line", () => {
  const tap = new UsageTap(true);
  tap.push(bytes('data: {"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":2}}'));
  assertEquals(tap.result(), { promptTokens: 7, completionTokens: 2, source: "reported" });
});

Deno.test("UsageTap reports nothing for a JSON body without usage", () => {
  const tap = new UsageTap(false);
  tap.push(bytes('{"data":[{"embedding":[0.1]}]}'));
  assertEquals(tap.result(), {
    promptTokens: undefined,
    completionTokens: undefined,
    source: "none",
  });
});

/** Feeds `text` to a fresh streaming tap in two chunks split at byte `at`. */
function splitAt(text: Uint8Array, at: number) {
  const tap = new UsageTap(true);
  tap.push(text.subarray(0, at));
  tap.push(text.subarray(at));
  return tap.result();
}

Deno.test("UsageTap reads a usage event split across two chunks at every byte offset", () => {
  const stream = bytes(
    'data: {"choices":[{"delta":{"content":"né"}}],"usage":null}\n\n' +
      'data: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":3}}\n\n' +
      "data: [DONE]\n\n",
  );
  for (let at = 0; at <= stream.length; at++) {
    assertEquals(
      splitAt(stream, at),
      { promptTokens: 5, completionTokens: 3, source: "reported" },
      `split at byte ${at}`,
    );
  }
});

Deno.test("UsageTap counts every stream event once wherever a chunk splits it", () => {
  const stream = bytes(
    'data: {"choices":[{"delta":{"content":"€"}}]}\n\n' +
      'data: {"choices":[{"delta":{"content":"b"}}]}\r\n\r\n' +
      "data: [DONE]\n\n",
  );
  for (let at = 0; at <= stream.length; at++) {
    assertEquals(
      splitAt(stream, at),
      { promptTokens: undefined, completionTokens: 2, source: "counted" },
      `split at byte ${at}`,
    );
  }
});

Deno.test("UsageTap reads a stream fed one byte at a time", () => {
  const tap = new UsageTap(true);
  const stream = bytes(
    'data: {"choices":[],"usage":{"prompt_tokens":11,"completion_tokens":4}}\n\ndata: [DONE]\n\n',
  );
  for (let i = 0; i < stream.length; i++) tap.push(stream.subarray(i, i + 1));
  assertEquals(tap.result(), { promptTokens: 11, completionTokens: 4, source: "reported" });
});

Deno.test("UsageTap reads the cached prompt tokens of a stream's usage and of a JSON body", () => {
  const stream = new UsageTap(true);
  stream.push(
    bytes(
      'data: {"choices":[],"usage":{"prompt_tokens":1200,"completion_tokens":3,"prompt_tokens_details":{"cached_tokens":1024}}}\n\ndata: [DONE]\n\n',
    ),
  );
  assertEquals(stream.result(), {
    promptTokens: 1200,
    completionTokens: 3,
    cachedTokens: 1024,
    source: "reported",
  });
  const json = new UsageTap(false);
  json.push(
    bytes('{"usage":{"prompt_tokens":9,"completion_tokens":1,"prompt_tokens_details":null}}'),
  );
  assertEquals(json.result(), { promptTokens: 9, completionTokens: 1, source: "reported" });
});
