import { deepStrictEqual as assertEquals, throws } from "node:assert/strict";
import { bodyFraming, endToEndHeaders, headEnd, parseResponseHead } from "./head.ts";

const encoder = new TextEncoder();

Deno.test("headEnd finds the blank line only once all of it has arrived", () => {
  const bytes = encoder.encode("HTTP/1.1 200 OK\r\na: b\r\n\r\nbody");
  assertEquals(headEnd(bytes, 0, bytes.length), 25);
  assertEquals(headEnd(bytes, 0, 24), -1);
  assertEquals(headEnd(bytes, 20, bytes.length), 25);
});

Deno.test("parseResponseHead keeps end-to-end headers and reads the framing ones", () => {
  const head = parseResponseHead(
    "HTTP/1.1 201 Created\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n" +
      "Connection: keep-alive, Upgrade\r\nX-Mine:  v \r\nKeep-Alive: timeout=5",
  );
  assertEquals(head, {
    status: 201,
    headers: [["content-type", "text/event-stream"], ["x-mine", "v"]],
    contentType: "text/event-stream",
    contentLength: undefined,
    framing: "chunked",
    keepAlive: true,
  });
});

Deno.test("parseResponseHead keeps HTTP/1.0 connections only when asked, HTTP/1.1 unless closed", () => {
  assertEquals(parseResponseHead("HTTP/1.0 200 OK").keepAlive, false);
  assertEquals(parseResponseHead("HTTP/1.0 200 OK\r\nconnection: keep-alive").keepAlive, true);
  assertEquals(parseResponseHead("HTTP/1.1 200 OK").keepAlive, true);
  assertEquals(parseResponseHead("HTTP/1.1 200 OK\r\nconnection: Close").keepAlive, false);
});

Deno.test("parseResponseHead accepts repeated equal lengths and refuses anything else", () => {
  assertEquals(parseResponseHead("HTTP/1.1 200 OK\r\ncontent-length: 12, 12").contentLength, 12);
  for (const bad of ["-1", "1e3", "12, 13", "", "0x10", "2\r\ncontent-length: 3"]) {
    throws(() => parseResponseHead(`HTTP/1.1 200 OK\r\ncontent-length: ${bad}`), /Content-Length/);
  }
  for (
    const bad of [
      "HTTP/2 200 OK",
      "HTTP/1.1 20 OK",
      "HTTP/1.1 2000 OK",
      "HTTP/1.1 2e2 OK",
      "garbage",
    ]
  ) {
    throws(() => parseResponseHead(bad), /malformed status line/);
  }
});

Deno.test("parseResponseHead refuses a header line Deno could not write back to the client", () => {
  const lines = [
    "no colon here",
    "content-length : 5",
    "x bad: 1",
    "x-bad: a\x01b",
    "x-bad: a\x1fb",
    "x-bad: a\x7fb",
    "x-bad: a\0b",
  ];
  for (const line of lines) {
    throws(() => parseResponseHead(`HTTP/1.1 200 OK\r\n${line}`), /cannot be relayed/, line);
  }
  assertEquals(parseResponseHead("HTTP/1.1 200 OK\r\nx-ok: a\tb \u00e9").headers, [[
    "x-ok",
    "a\tb \u00e9",
  ]]);
});

Deno.test("parseResponseHead joins an obsolete folded line to the field before it", () => {
  const head = parseResponseHead(
    "HTTP/1.1 200 OK\r\nx-a: one\r\n  folded: two\r\n\tthree\r\nx-b: 1",
  );
  assertEquals(head.headers, [["x-a", "one folded: two three"], ["x-b", "1"]]);
  throws(() => parseResponseHead("HTTP/1.1 200 OK\r\n folded"), /folded first header line/);
});

Deno.test("parseResponseHead reads Transfer-Encoding across lines; chunked must come last, else the body runs to the close", () => {
  const framing = (fields: string) => parseResponseHead(`HTTP/1.1 200 OK\r\n${fields}`);
  assertEquals(framing("transfer-encoding: chunked\r\ntransfer-encoding: ").framing, "chunked");
  assertEquals(framing("transfer-encoding: gzip\r\ntransfer-encoding: chunked").framing, "chunked");
  const gzip = framing(
    "transfer-encoding: chunked\r\ncontent-length: 5\r\ntransfer-encoding: gzip",
  );
  assertEquals([gzip.framing, gzip.contentLength, gzip.keepAlive], ["close", undefined, false]);
  const both = framing("content-length: 5\r\ntransfer-encoding: chunked");
  assertEquals([both.framing, both.contentLength, both.keepAlive], ["chunked", undefined, false]);
});

Deno.test("endToEndHeaders drops hop-by-hop headers and those the Connection header names", () => {
  assertEquals(
    endToEndHeaders([
      ["connection", "X-Secret, close"],
      ["x-secret", "1"],
      ["te", "trailers"],
      ["x-kept", "2"],
    ]),
    [["x-kept", "2"]],
  );
});

Deno.test("bodyFraming follows RFC 9112: no body for HEAD, 204 and 304, chunked over a length", () => {
  const head = (text: string) => parseResponseHead(`HTTP/1.1 ${text}`);
  assertEquals(bodyFraming(head("200 OK\r\ncontent-length: 5"), "HEAD"), "none");
  assertEquals(bodyFraming(head("204 No Content"), "POST"), "none");
  assertEquals(bodyFraming(head("304 Not Modified\r\ncontent-length: 5"), "GET"), "none");
  assertEquals(
    bodyFraming(head("200 OK\r\ncontent-length: 5\r\ntransfer-encoding: chunked"), "POST"),
    "chunked",
  );
  assertEquals(bodyFraming(head("200 OK\r\ncontent-length: 5"), "POST"), "length");
  assertEquals(bodyFraming(head("200 OK\r\ncontent-length: 0"), "POST"), "none");
  assertEquals(bodyFraming(head("200 OK"), "POST"), "close");
});
