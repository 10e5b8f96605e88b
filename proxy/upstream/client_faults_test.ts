import { deepStrictEqual as assertEquals, ok, rejects } from "node:assert/strict";
import { conformance, post, text } from "./_raw_server.ts";
import { UpstreamError } from "./errors.ts";

const paths = (heads: string[]) => heads.map((head) => head.split("\r\n")[0]);

conformance(
  "cancel() after a 5xx without a body leaves the pooled connection to the next request, so no POST is sent twice",
  (n) =>
    n === 0
      ? ["HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n"]
      : ["HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nb"],
  async ({ server, client }) => {
    const first = await client.request(post(server.url, { path: "/a" }));
    assertEquals(first.status, 503);
    // The forwarder cancels every 5xx; by then this answer's connection may carry the next one.
    const second = client.request(post(server.url, { path: "/b" }));
    first.cancel();
    assertEquals(await text(await second), "b");
    first.cancel();
    assertEquals(paths(server.state.heads), ["POST /a HTTP/1.1", "POST /b HTTP/1.1"]);
  },
);

let idleWrite = Promise.withResolvers<void>();
conformance(
  "request() never takes bytes a server wrote on an idle connection for its answer",
  (n) =>
    n === 0
      ? [
        "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nfirst",
        () => idleWrite.promise,
        "HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\n\r\n",
      ]
      : ["HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nsecond"],
  async ({ server, client }) => {
    idleWrite = Promise.withResolvers<void>();
    try {
      assertEquals(await text(await client.request(post(server.url))), "first");
      idleWrite.resolve();
      // The client drops a connection the server spoke on unasked.
      await server.clientClosed(1);
      const res = await client.request(post(server.url));
      assertEquals([res.status, await text(res)], [200, "second"]);
      assertEquals(server.state.connections, 2);
    } finally {
      idleWrite.resolve();
    }
  },
);

let strayWritten = Promise.withResolvers<void>();
conformance(
  "a chunked body's last bytes are the body's, even when the server writes on the connection right after it",
  () => [
    "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    () => new Promise((resolve) => setTimeout(resolve, 20)),
    `HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\n\r\n${"Z".repeat(200)}`,
    () => strayWritten.resolve(),
  ],
  async ({ server, client }) => {
    strayWritten = Promise.withResolvers<void>();
    const res = await client.request(post(server.url));
    // The stray bytes sit in the kernel before the body is read, so the idle read that finishing
    // the body starts finds them at once.
    await strayWritten.promise;
    await new Promise((resolve) => setTimeout(resolve, 50));
    assertEquals(await text(res), "hello");
  },
);

conformance(
  "request() never resends a POST after the connection closed mid-answer",
  (n) => n === 1 ? ["CLOSE"] : ["HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"],
  async ({ server, client }) => {
    assertEquals(await text(await client.request(post(server.url))), "ok");
    await rejects(
      client.request(post(server.url, { path: "/once" })),
      (error: unknown) =>
        error instanceof UpstreamError && error.kind === "closed_after_write" &&
        !error.unprocessed,
    );
    assertEquals(paths(server.state.heads).filter((p) => p?.includes("/once")), [
      "POST /once HTTP/1.1",
    ]);
  },
  {
    fetchCannot:
      "Deno's fetch resends a request whose reused connection closed before the answer, POST or not",
  },
);

conformance(
  "request() joins a folded header line to the field before it, or refuses the answer",
  () => ["HTTP/1.1 200 OK\r\nx-a: one\r\n folded: two\r\ncontent-length: 2\r\n\r\nok"],
  async ({ server, client }) => {
    const res = await client.request(post(server.url)).catch((error: unknown) => {
      ok(error instanceof UpstreamError && error.kind === "protocol", String(error));
    });
    if (!res) return;
    assertEquals(res.headers.find(([name]) => name === "x-a"), ["x-a", "one folded: two"]);
    assertEquals(res.headers.some(([name]) => name === "folded"), false);
  },
);

conformance(
  "request() reads Transfer-Encoding across all its lines, ignoring an empty one",
  () => [
    "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ntransfer-encoding: \r\n\r\n",
    "2\r\nok\r\n0\r\n\r\n",
    "CLOSE",
  ],
  async ({ server, client }) => {
    assertEquals(await text(await client.request(post(server.url))), "ok");
  },
  { fetchCannot: "hyper frames by the last Transfer-Encoding line and relays the raw chunks" },
);

conformance(
  "request() reads a body with a Transfer-Encoding other than chunked to the close, ignoring Content-Length",
  () => [
    "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\ncontent-length: 2\r\n\r\n",
    "okMORE",
    "CLOSE",
  ],
  async ({ server, client }) => {
    const res = await client.request(post(server.url));
    assertEquals([res.contentLength, await text(res)], [undefined, "okMORE"]);
  },
);

conformance(
  "request() refuses two Content-Length lines that disagree",
  () => ["HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nok"],
  async ({ server, client }) => {
    await rejects(
      client.request(post(server.url)),
      (error: unknown) => error instanceof UpstreamError && error.kind === "protocol",
    );
  },
);

conformance(
  "request() relays no header the Connection header names, nor any hop-by-hop one",
  () => [
    "HTTP/1.1 200 OK\r\nconnection: x-secret, keep-alive\r\nx-secret: 1\r\nkeep-alive: timeout=5\r\n" +
    "x-kept: 2\r\ntrailer: x-t\r\ncontent-length: 2\r\n\r\nok",
  ],
  async ({ server, client }) => {
    const res = await client.request(post(server.url));
    assertEquals(res.headers.filter(([name]) => name !== "date"), [["x-kept", "2"]]);
    await text(res);
  },
);

conformance(
  "request() refuses an answer that sends informational heads without end",
  () => [
    ...Array.from({ length: 20 }, () => "HTTP/1.1 100 Continue\r\n\r\n"),
    "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
  ],
  async ({ server, client }) => {
    await rejects(
      client.request(post(server.url)),
      (error: unknown) => error instanceof UpstreamError && error.kind === "protocol",
    );
  },
  {
    fetchCannot:
      "hyper skips informational heads without a limit; the first-byte timeout bounds them",
  },
);
