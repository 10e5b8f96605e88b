import { deepStrictEqual as assertEquals, rejects } from "node:assert/strict";
import { assertOneConnection, conformance, post, text } from "./_raw_server.ts";
import { UpstreamError } from "./errors.ts";

const decoder = new TextDecoder();

conformance("request() reads a Content-Length answer and reuses the connection", () => [
  "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n",
  '{"ok":true}',
], async ({ server, client }) => {
  for (let i = 0; i < 3; i++) {
    const res = await client.request(post(server.url, { body: `{"i":${i}}` }));
    assertEquals([res.status, res.contentType, res.contentLength], [200, "application/json", 11]);
    assertEquals(res.headers.filter(([name]) => name !== "date"), [
      ["content-type", "application/json"],
    ]);
    assertEquals(await text(res), '{"ok":true}');
  }
  assertEquals(server.state.connections, 1);
  assertEquals(server.state.bodies, ['{"i":0}', '{"i":1}', '{"i":2}']);
  assertEquals(server.state.heads[0]?.split("\r\n")[0], "POST /v1/x HTTP/1.1");
});

let bodyGate = Promise.withResolvers<void>();
conformance(
  "bytes() reads a Content-Length body that came with its head, and one that came after it",
  (n) =>
    n % 2 === 0
      ? ['HTTP/1.1 200 OK\r\ncontent-length: 7\r\n\r\n{"n":' + n + "}"]
      : ["HTTP/1.1 200 OK\r\ncontent-length: 7\r\n\r\n", () => bodyGate.promise, `{"n":${n}}`],
  async (c) => {
    const bodies: string[] = [];
    for (let i = 0; i < 4; i++) {
      bodyGate = Promise.withResolvers<void>();
      const res = await c.client.request(post(c.server.url));
      const body = text(res);
      bodyGate.resolve();
      bodies.push(await body);
    }
    assertEquals(bodies, ['{"n":0}', '{"n":1}', '{"n":2}', '{"n":3}']);
    assertOneConnection(c);
  },
);

let gate = Promise.withResolvers<void>();
conformance("request() de-chunks a stream and hands over each piece as it arrives", () => [
  "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n",
  "6\r\ndata: ",
  () => gate.promise,
  "\r\n",
  "3;ext=1\r\na\n\n\r\n",
  "0\r\n",
  "\r\n",
], async (c) => {
  const { server, client } = c;
  for (let round = 0; round < 2; round++) {
    gate = Promise.withResolvers<void>();
    try {
      const res = await client.request(post(server.url));
      assertEquals(res.contentLength, undefined);
      // The first piece comes while the upstream still holds back the rest.
      assertEquals(decoder.decode((await res.read())!), "data: ");
      gate.resolve();
      assertEquals(await text(res), "a\n\n");
    } finally {
      gate.resolve();
    }
  }
  assertOneConnection(c);
});

conformance(
  "request() de-chunks a body split at every byte, with extensions and trailers",
  (n) =>
    n === 0
      ? [
        ...("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n" +
          '5;name="v"\r\nhello\r\n' + "A\r\n, chunked!\r\n" +
          "0;last\r\nx-trailer: 1\r\nx-other: 2\r\n\r\n"),
      ]
      : ["HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nnext"],
  async (c) => {
    const { server, client } = c;
    assertEquals(await text(await client.request(post(server.url))), "hello, chunked!");
    assertEquals(await text(await client.request(post(server.url))), "next");
    assertOneConnection(c);
  },
);

conformance(
  "request() reads to the end when the upstream closes instead of framing",
  () => ["HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nall ", "of it", "CLOSE"],
  async ({ server, client }) => {
    assertEquals(await text(await client.request(post(server.url))), "all of it");
    assertEquals(await text(await client.request(post(server.url))), "all of it");
    assertEquals(server.state.connections, 2);
  },
);

conformance(
  "request() does not reuse a connection the upstream marked Connection: close",
  () => ["HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok"],
  async ({ server, client }) => {
    assertEquals(await text(await client.request(post(server.url))), "ok");
    assertEquals(await text(await client.request(post(server.url))), "ok");
    assertEquals(server.state.connections, 2);
  },
);

conformance("request() reads no body after HEAD, 204 and 304 and keeps the connection", (n) => [
  [
    "HTTP/1.1 200 OK\r\ncontent-length: 50\r\n\r\n",
    "HTTP/1.1 204 No Content\r\n\r\n",
    "HTTP/1.1 304 Not Modified\r\ncontent-length: 10\r\n\r\n",
  ][n] ?? "HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nlast",
], async (c) => {
  const { server, client } = c;
  const head = await client.request(post(server.url, { body: "", method: "HEAD" }));
  assertEquals([head.status, await text(head)], [200, ""]);
  const empty = await client.request(post(server.url));
  assertEquals([empty.status, await empty.read()], [204, null]);
  const notModified = await client.request(post(server.url));
  assertEquals([notModified.status, await text(notModified)], [304, ""]);
  assertEquals(await text(await client.request(post(server.url))), "last");
  assertOneConnection(c);
});

conformance("request() skips an informational 100 Continue before the answer", () => [
  "HTTP/1.1 100 Continue\r\n\r\n",
  "HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nyes",
], async ({ server, client }) => {
  const res = await client.request(post(server.url));
  assertEquals([res.status, await text(res)], [200, "yes"]);
});

conformance("request() fails, never truncates silently, when the upstream closes mid-body", (n) => [
  n === 0
    ? "HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly part"
    : "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4\r\npart\r\n",
  "CLOSE",
], async ({ server, client }) => {
  await rejects(client.request(post(server.url)).then(text), UpstreamError);
  const chunked = await client.request(post(server.url));
  assertEquals(decoder.decode((await chunked.read())!), "part");
  await rejects(chunked.read(), UpstreamError);
});

conformance("request() refuses malformed framing instead of guessing", (n) => [
  [
    "HTTP/1.1 200 OK\r\ncontent-length: 12abc\r\n\r\n",
    "HTTP/1.1 200 OK\r\ncontent-length: 3, 4\r\n\r\n",
  ][n] ?? "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
], async ({ server, client }) => {
  const protocol = (error: unknown) => error instanceof UpstreamError && error.kind === "protocol";
  await rejects(client.request(post(server.url)), protocol);
  await rejects(client.request(post(server.url)), protocol);
  await rejects(client.request(post(server.url)).then(text), UpstreamError);
});

conformance(
  "request() does not reuse a connection with bytes left past the answer",
  () => ["HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokEXTRA"],
  async ({ server, client }) => {
    assertEquals(await text(await client.request(post(server.url))), "ok");
    assertEquals(await text(await client.request(post(server.url))), "ok");
    assertEquals(server.state.connections, 2);
  },
);

conformance(
  "request() sends a large body whole, whatever the socket takes per write",
  () => ["HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"],
  async ({ server, client }) => {
    const big = "x".repeat(4 * 1024 * 1024);
    assertEquals(await text(await client.request(post(server.url, { body: big }))), "ok");
    assertEquals(server.state.bodies[0]?.length, big.length);
  },
);

let release = Promise.withResolvers<void>();
conformance("request() aborts a request in flight by closing its connection", () => [
  "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
  "2\r\nhi\r\n",
  () => release.promise,
], async ({ server, client }) => {
  release = Promise.withResolvers<void>();
  try {
    const abort = new AbortController();
    const res = await client.request(post(server.url, { signal: abort.signal }));
    assertEquals(decoder.decode((await res.read())!), "hi");
    const reading = res.read();
    abort.abort("client");
    await rejects(reading, (error: Error) => error.name === "AbortError");
    const refused = new AbortController();
    refused.abort("client");
    await rejects(
      client.request(post(server.url, { signal: refused.signal })),
      (error: Error) => error.name === "AbortError",
    );
  } finally {
    release.resolve();
  }
});
