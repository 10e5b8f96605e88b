import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { lastEventEnd, SseFramer } from "./sse_frames.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const bytes = (text: string) => encoder.encode(text);
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : decoder.decode(b));

Deno.test("lastEventEnd() finds the end of the last blank line in each line-ending style", () => {
  assertEquals(lastEventEnd(bytes("data: a\n\ndata: b")), 9);
  assertEquals(lastEventEnd(bytes("data: a\r\n\r\ndata: b")), 11);
  assertEquals(lastEventEnd(bytes("data: a\r\rdata: b")), 9);
  assertEquals(lastEventEnd(bytes("data: a\ndata: b\n")), 0);
  assertEquals(lastEventEnd(bytes("")), 0);
});

Deno.test("SseFramer passes whole events through and holds back half an event until it completes", () => {
  const framer = new SseFramer();
  const whole = bytes("data: 1\n\ndata: 2\n\n");
  assertEquals(framer.take(whole), whole);
  assertEquals(text(framer.take(bytes('data: 3\n\ndata: {"ch'))), "data: 3\n\n");
  assertEquals(framer.open, true);
  assertEquals(framer.take(bytes('oices":[]}')), undefined);
  assertEquals(text(framer.take(bytes("\n\n"))), 'data: {"choices":[]}\n\n');
  assertEquals([framer.open, framer.rest()], [false, undefined]);
});

Deno.test("SseFramer keeps a trailing line end of an unfinished event for the clean end of stream", () => {
  const framer = new SseFramer();
  assertEquals(text(framer.take(bytes("data: 1\n\ndata: [DONE]\n"))), "data: 1\n\n");
  assertEquals(framer.open, true);
  assertEquals(text(framer.rest()), "data: [DONE]\n");
  assertEquals(framer.open, false);
});
