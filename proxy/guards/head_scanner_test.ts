import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import fc from "fast-check";
import { HeadScanner, MAX_SCANNED_VALUE_BYTES } from "./head_scanner.ts";

const encoder = new TextEncoder();

/** One request of a generated stream, and where its head starts and ends. */
interface Framed {
  bytes: Uint8Array;
  /** Offset just past the head's empty line, within `bytes`. */
  headEnd: number;
}

/** What a scanner says after some bytes: heads begun, heads ended, and whether one is arriving. */
type Seen = [heads: number, ended: number, inHead: boolean];

function seen(scanner: HeadScanner): Seen {
  return [scanner.heads, scanner.endedHeads, scanner.inHead];
}

const token = fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,20}$/);
const value = fc.stringMatching(/^[ -~]{0,40}$/).map((v) => v.trim());
const bodyText = fc.string({ maxLength: 300 }).map((s) => encoder.encode(s));

const request = fc.record({
  method: fc.constantFrom("GET", "POST", "PUT", "DELETE"),
  path: fc.stringMatching(/^\/[a-z0-9/?=&]{0,30}$/),
  headers: fc.array(fc.tuple(token, value), { maxLength: 6 }),
  framing: fc.constantFrom("none", "length", "chunked"),
  body: bodyText,
  chunks: fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 5 }),
  extension: fc.boolean(),
  trailer: fc.boolean(),
  lengthName: fc.constantFrom("Content-Length", "content-length", "CONTENT-LENGTH"),
  lf: fc.constantFrom("\r\n", "\n"),
}).filter((r) =>
  r.headers.every(([name]) =>
    !["content-length", "transfer-encoding", "upgrade"].includes(name.toLowerCase())
  )
).map(frame);

/** The bytes of one generated request, as a client would send them. */
function frame(r: {
  method: string;
  path: string;
  headers: [string, string][];
  framing: string;
  body: Uint8Array;
  chunks: number[];
  extension: boolean;
  trailer: boolean;
  lengthName: string;
  lf: string;
}): Framed {
  const lines = [`${r.method} ${r.path} HTTP/1.1`, "Host: 127.0.0.1"];
  for (const [name, v] of r.headers) lines.push(`${name}: ${v}`);
  if (r.framing === "length") lines.push(`${r.lengthName}:  ${r.body.length} `);
  if (r.framing === "chunked") lines.push("Transfer-Encoding: chunked");
  const head = encoder.encode(lines.join(r.lf) + r.lf + r.lf);
  const parts: Uint8Array[] = [head];
  if (r.framing === "length") parts.push(r.body);
  if (r.framing === "chunked") {
    let at = 0;
    for (const size of r.chunks) {
      const piece = r.body.subarray(at, at + size);
      at += piece.length;
      if (piece.length === 0) break;
      const ext = r.extension ? ";name=value" : "";
      parts.push(
        encoder.encode(`${piece.length.toString(16)}${ext}\r\n`),
        piece,
        encoder.encode("\r\n"),
      );
    }
    parts.push(encoder.encode(r.trailer ? "0\r\nx-checksum: 1\r\n\r\n" : "0\r\n\r\n"));
  }
  return { bytes: concat(parts), headEnd: head.length };
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** What a correct scanner says after each offset of the stream of `requests`, from the framing. */
function expected(requests: Framed[]): Seen[] {
  const starts: number[] = [];
  const ends: number[] = [];
  let at = 0;
  for (const r of requests) {
    starts.push(at);
    ends.push(at + r.headEnd);
    at += r.bytes.length;
  }
  const out: Seen[] = [];
  for (let offset = 0; offset <= at; offset++) {
    // The first head counts as begun at the stream's start, a later one at its first byte.
    const heads = Math.max(1, starts.filter((s) => s < offset).length);
    const ended = ends.filter((e) => e <= offset).length;
    out.push([heads, ended, heads > ended]);
  }
  return out;
}

Deno.test("HeadScanner finds every head's start and end in a pipelined stream, however it is cut into chunks", () => {
  fc.assert(
    fc.property(
      fc.array(request, { minLength: 1, maxLength: 5 }),
      fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 40 }),
      (requests, cuts) => {
        const stream = concat(requests.map((r) => r.bytes));
        const want = expected(requests);
        const scanner = new HeadScanner();
        assertEquals(seen(scanner), want[0]);
        let at = 0;
        let cut = 0;
        while (at < stream.length) {
          const size = cuts[cut++ % cuts.length]!;
          const end = Math.min(stream.length, at + size);
          scanner.push(stream.subarray(at, end));
          at = end;
          assertEquals(seen(scanner), want[at], `after ${at} of ${stream.length} bytes`);
          assert(!scanner.opaque);
        }
        assertEquals(seen(scanner), [requests.length, requests.length, false]);
      },
    ),
    { numRuns: 300, seed: 12 },
  );
});

Deno.test("HeadScanner fed byte by byte agrees with the framing at every offset", () => {
  fc.assert(
    fc.property(fc.array(request, { minLength: 1, maxLength: 4 }), (requests) => {
      const stream = concat(requests.map((r) => r.bytes));
      const want = expected(requests);
      const scanner = new HeadScanner();
      for (let i = 0; i < stream.length; i++) {
        scanner.push(stream.subarray(i, i + 1));
        assertEquals(seen(scanner), want[i + 1], `after byte ${i}`);
      }
    }),
    { numRuns: 100, seed: 7 },
  );
});

const piece = fc.constantFrom(
  "\r",
  "\n",
  "\r\n",
  ":",
  " ",
  "GET / HTTP/1.1",
  "CONNECT x HTTP/1.1",
  "POST /v1 HTTP/1.0",
  "Content-Length",
  "content-length: 3",
  "Transfer-Encoding",
  "chunked",
  "upgrade",
  ";x=y",
  "0",
  "5",
  "a",
  "abc",
);

Deno.test("HeadScanner says the same of any byte stream, valid or not, however it is cut into chunks", () => {
  fc.assert(
    fc.property(
      fc.array(piece, { maxLength: 80 }).map((parts) => encoder.encode(parts.join(""))),
      fc.array(fc.integer({ min: 1, max: 60 }), { minLength: 1, maxLength: 20 }),
      (stream, cuts) => {
        const byByte = new HeadScanner();
        const states = [[...seen(byByte), byByte.opaque]];
        for (let i = 0; i < stream.length; i++) {
          byByte.push(stream.subarray(i, i + 1));
          states.push([...seen(byByte), byByte.opaque]);
        }
        const scanner = new HeadScanner();
        let at = 0;
        let cut = 0;
        while (at < stream.length) {
          const end = Math.min(stream.length, at + cuts[cut++ % cuts.length]!);
          scanner.push(stream.subarray(at, end));
          at = end;
          assertEquals([...seen(scanner), scanner.opaque], states[at], `after ${at} bytes`);
        }
      },
    ),
    { numRuns: 2_000, seed: 3 },
  );
});

function scan(...pieces: string[]): HeadScanner {
  const scanner = new HeadScanner();
  for (const piece of pieces) scanner.push(encoder.encode(piece));
  return scanner;
}

Deno.test("HeadScanner stops after an Upgrade or CONNECT request and reads nothing further", () => {
  const upgrade = scan(
    "GET /v1/sessions/s/ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    "GET / HTTP/1.1\r\n",
  );
  assert(upgrade.opaque);
  assertEquals(seen(upgrade), [1, 1, false]);
  const connect = scan("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\nxyz");
  assert(connect.opaque);
  const preface = scan("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
  assert(preface.opaque);
});

Deno.test("HeadScanner stops after framing it cannot follow, but still times the head to its end", () => {
  for (
    const head of [
      "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
      "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
      "POST / HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
      "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
      "GET / HTTP/1.1\r\nX-A: b\r\n folded\r\n\r\n",
      "GET / HTTP/1.1\r\nno colon here\r\n\r\n",
      "GET /\r\n\r\n",
    ]
  ) {
    const scanner = new HeadScanner();
    const bytes = encoder.encode(head);
    scanner.push(bytes.subarray(0, bytes.length - 1));
    assert(scanner.inHead, head);
    scanner.push(bytes.subarray(bytes.length - 1));
    assert(scanner.opaque, head);
    assertEquals(scanner.endedHeads, 1, head);
  }
});

Deno.test("HeadScanner keeps no more than a value's cap of a head, and an over-long framing value stops it", () => {
  const big = "x".repeat(1024 * 1024);
  const skipped = scan(`GET / HTTP/1.1\r\nX-Big: ${big}`);
  assert(skipped.inHead);
  skipped.push(encoder.encode("\r\n\r\nGET / HTTP/1.1\r\n\r\n"));
  assertEquals(seen(skipped), [2, 2, false]);
  assert(!skipped.opaque);
  const long = scan(
    `POST / HTTP/1.1\r\nContent-Length: ${"1".repeat(MAX_SCANNED_VALUE_BYTES + 1)}`,
  );
  assert(long.inHead);
  long.push(encoder.encode("\r\n\r\n"));
  assert(long.opaque);
  assertEquals(long.endedHeads, 1);
});

Deno.test("HeadScanner skips line ends between requests without timing them as a head", () => {
  const scanner = scan("GET / HTTP/1.1\r\n\r\n", "\r\n\r\n");
  assertEquals(seen(scanner), [1, 1, false]);
  scanner.push(encoder.encode("G"));
  assertEquals(seen(scanner), [2, 1, true]);
});

Deno.test("HeadScanner skips empty lines before a connection's first request line", () => {
  const scanner = scan("\r\n", "GET / HTTP/1.1\r\n\r\n");
  assertEquals(seen(scanner), [1, 1, false]);
});

Deno.test("HeadScanner stops on a malformed chunk size", () => {
  const scanner = scan("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
  assert(scanner.opaque);
});
