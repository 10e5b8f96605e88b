import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { MAX_JSON_DEPTH, nestsDeeperThan, parseJsonBytes, readBodyBytes } from "./body.ts";
import { Deadlines } from "../openai/deadlines.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const bounds = { maxBytes: 5, timeoutMs: 5_000 };

function streamed(pieces: string[]): ReadableStream<Uint8Array> {
  return ReadableStream.from(pieces.map((p) => encoder.encode(p)));
}

function text(read: Awaited<ReturnType<typeof readBodyBytes>>): string | number {
  return read.ok ? decoder.decode(read.bytes) : read.status;
}

Deno.test("readBodyBytes reads a body within the cap, declared or streamed", async () => {
  const declared = new Request("http://x/", { method: "POST", body: "hello" });
  assertEquals(text(await readBodyBytes(declared, bounds)), "hello");
  const chunked = new Request("http://x/", { method: "POST", body: streamed(["he", "llo"]) });
  assertEquals(text(await readBodyBytes(chunked, bounds)), "hello");
  assertEquals(text(await readBodyBytes(new Request("http://x/"), bounds)), "");
});

Deno.test("readBodyBytes refuses a body over the cap, whether declared or only counted", async () => {
  const declared = new Request("http://x/", { method: "POST", body: "too long" });
  assertEquals(text(await readBodyBytes(declared, bounds)), 413);
  const chunked = new Request("http://x/", { method: "POST", body: streamed(["abc", "def"]) });
  assertEquals(text(await readBodyBytes(chunked, bounds)), 413);
});

Deno.test("readBodyBytes answers 408 to a body that stops arriving, and cancels its stream", async () => {
  let cancelled = false;
  const stalled = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode("{"));
    },
    cancel() {
      cancelled = true;
    },
  });
  const request = new Request("http://x/", { method: "POST", body: stalled });
  const read = await readBodyBytes(request, { maxBytes: 100, timeoutMs: 50 });
  assertEquals([read.ok ? "ok" : [read.status, read.code], cancelled], [
    [408, "body_timeout"],
    true,
  ]);
});

Deno.test("readBodyBytes keeps its deadline on the shared timer it is given, and takes it off after the body", async () => {
  const deadlines = new Deadlines({ tickMs: 10 });
  try {
    const whole = new Request("http://x/", { method: "POST", body: "{}" });
    const read = await readBodyBytes(whole, { maxBytes: 100, timeoutMs: 5_000, deadlines });
    assertEquals([read.ok, deadlines.size], [true, 0]);
    const stalled = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(encoder.encode("{"));
      },
    });
    const request = new Request("http://x/", { method: "POST", body: stalled });
    const pending = readBodyBytes(request, { maxBytes: 100, timeoutMs: 50, deadlines });
    assertEquals(deadlines.size, 1, "the stalled body's deadline waits on the shared timer");
    const late = await pending;
    assertEquals([late.ok ? "ok" : [late.status, late.code], deadlines.size], [
      [408, "body_timeout"],
      0,
    ]);
  } finally {
    deadlines.clear();
  }
});

Deno.test("parseJsonBytes refuses invalid UTF-8, bad JSON and deep nesting", () => {
  const codes = [
    new Uint8Array([0x7b, 0xff, 0x7d]),
    encoder.encode('{"a":'),
    encoder.encode("[".repeat(MAX_JSON_DEPTH + 1) + "]".repeat(MAX_JSON_DEPTH + 1)),
  ].map((bytes) => {
    const parsed = parseJsonBytes(bytes);
    return parsed.ok ? "ok" : parsed.code;
  });
  assertEquals(codes, ["invalid_encoding", "invalid_json", "nesting_too_deep"]);
  const deepest = "[".repeat(MAX_JSON_DEPTH) + "]".repeat(MAX_JSON_DEPTH);
  assertEquals(parseJsonBytes(encoder.encode(deepest)).ok, true);
  assertEquals(parseJsonBytes(encoder.encode(" "), { emptyIsObject: true }), {
    ok: true,
    bytes: encoder.encode(" "),
    json: {},
  });
});

Deno.test("nestsDeeperThan counts objects and arrays alike and ignores strings", () => {
  assertEquals(nestsDeeperThan({ a: [{ b: "[[[[" }] }, 3), false);
  assertEquals(nestsDeeperThan({ a: [{ b: [] }] }, 3), true);
  assertEquals(nestsDeeperThan("text", 0), false);
});
