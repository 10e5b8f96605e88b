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

Deno.test("UsageTap counts stream events when the replica sends no usage", () => {
  const tap = new UsageTap(true);
  tap.push(
    bytes(
      'data: {"choices":[{"delta":{"content":"a"}}]}\n\ndata: {"choices":[{"delta":{"content":"b"}}]}\n\n',
    ),
  );
  tap.push(bytes("data: [DONE]\n\n"));
  assertEquals(tap.result(), { promptTokens: undefined, completionTokens: 2, source: "counted" });
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
