import { deepStrictEqual as assertEquals, rejects } from "node:assert/strict";
import { UpstreamClient } from "./client.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A scripted answer piece: bytes to write, a function to call (and await), or "CLOSE" to close the connection. */
type Piece = string | Uint8Array | (() => unknown);

/**
 * A raw HTTP server that answers each request with scripted pieces, each its own socket write,
 * counting connections. close() waits for every connection handler, so nothing outlives a test.
 */
function rawServer(answer: (n: number) => Piece[]) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const state = { connections: 0, requests: 0, heads: [] as string[], bodies: [] as string[] };
  const conns: Deno.Conn[] = [];
  const handlers: Promise<void>[] = [];
  async function handle(conn: Deno.Conn): Promise<void> {
    const buf = new Uint8Array(65536);
    let text = "";
    try {
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        text += decoder.decode(buf.subarray(0, n));
        for (;;) {
          const end = text.indexOf("\r\n\r\n");
          if (end < 0) break;
          const length = Number(/content-length: (\d+)/i.exec(text.slice(0, end))?.[1] ?? 0);
          if (text.length < end + 4 + length) break;
          state.heads.push(text.slice(0, end));
          state.bodies.push(text.slice(end + 4, end + 4 + length));
          text = text.slice(end + 4 + length);
          for (const piece of answer(state.requests++)) {
            if (typeof piece === "function") await piece();
            else if (piece === "CLOSE") conn.close();
            else {
              const bytes = typeof piece === "string" ? encoder.encode(piece) : piece;
              for (let at = 0; at < bytes.byteLength;) at += await conn.write(bytes.subarray(at));
            }
          }
        }
      }
    } catch {
      // Closed.
    } finally {
      try {
        conn.close();
      } catch { /* closed */ }
    }
  }
  const serving = (async () => {
    for await (const conn of listener) {
      state.connections++;
      conns.push(conn);
      handlers.push(handle(conn));
    }
  })();
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    state,
    async close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await serving.catch(() => {});
      await Promise.all(handlers);
    },
  };
}

/** Runs `test` against a scripted server and a fresh client, closing both however it ends. */
async function withServer(
  answer: (n: number) => Piece[],
  test: (server: ReturnType<typeof rawServer>, client: UpstreamClient) => Promise<void>,
): Promise<void> {
  const server = rawServer(answer);
  const client = new UpstreamClient();
  try {
    await test(server, client);
  } finally {
    client.close();
    await server.close();
  }
}

function req(url: string, body = "{}", options: { signal?: AbortSignal; method?: string } = {}) {
  return {
    method: options.method ?? "POST",
    baseUrl: url,
    path: "/v1/x",
    headers: [["content-type", "application/json"]] as [string, string][],
    body: encoder.encode(body),
    signal: options.signal ?? new AbortController().signal,
  };
}

async function text(res: { bytes(): Promise<Uint8Array> }): Promise<string> {
  return decoder.decode(await res.bytes());
}

Deno.test("UpstreamClient reads a Content-Length answer and reuses the connection", async () => {
  await withServer(
    () => [
      "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n",
      '{"ok":true}',
    ],
    async (server, client) => {
      for (let i = 0; i < 3; i++) {
        const res = await client.request(req(server.url, `{"i":${i}}`));
        assertEquals([res.status, res.contentType, res.contentLength], [
          200,
          "application/json",
          11,
        ]);
        assertEquals(res.headers, [["content-type", "application/json"]]);
        assertEquals(await text(res), '{"ok":true}');
      }
      assertEquals(server.state.connections, 1);
      assertEquals(server.state.bodies, ['{"i":0}', '{"i":1}', '{"i":2}']);
      assertEquals(server.state.heads[0]?.split("\r\n")[0], "POST /v1/x HTTP/1.1");
    },
  );
});

Deno.test("UpstreamClient de-chunks a chunked stream and hands over each piece as it arrives", async () => {
  let gate = Promise.withResolvers<void>();
  await withServer(() => [
    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n",
    "6\r\ndata: ",
    () => gate.promise,
    "\r\n",
    "3;ext=1\r\na\n\n\r\n",
    "0\r\n",
    "\r\n",
  ], async (server, client) => {
    try {
      for (let round = 0; round < 2; round++) {
        gate = Promise.withResolvers<void>();
        const res = await client.request(req(server.url));
        assertEquals(res.contentLength, undefined);
        assertEquals(res.headers, [["content-type", "text/event-stream"]]);
        // The first piece comes while the upstream still holds back the rest.
        assertEquals(decoder.decode((await res.read())!), "data: ");
        gate.resolve();
        assertEquals(await text(res), "a\n\n");
      }
      assertEquals(server.state.connections, 1);
    } finally {
      gate.resolve();
    }
  });
});

Deno.test("UpstreamClient de-chunks a body split at every byte, with extensions and trailers", async () => {
  const wire = "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n" +
    '5;name="v"\r\nhello\r\n' + "A\r\n, chunked!\r\n" +
    "0;last\r\nx-trailer: 1\r\nx-other: 2\r\n\r\n";
  await withServer(
    (n) =>
      n === 0 ? [...wire].map((ch) => ch) : ["HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nnext"],
    async (server, client) => {
      const res = await client.request(req(server.url));
      assertEquals(await text(res), "hello, chunked!");
      assertEquals(await text(await client.request(req(server.url))), "next");
      assertEquals(server.state.connections, 1);
    },
  );
});

Deno.test("UpstreamClient reads to the end when the upstream closes instead of framing", async () => {
  await withServer(
    () => ["HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nall ", "of it", "CLOSE"],
    async (server, client) => {
      assertEquals(await text(await client.request(req(server.url))), "all of it");
      assertEquals(await text(await client.request(req(server.url))), "all of it");
      assertEquals(server.state.connections, 2);
    },
  );
});

Deno.test("UpstreamClient does not reuse a connection the upstream marked Connection: close", async () => {
  await withServer(
    () => ["HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok"],
    async (server, client) => {
      assertEquals(await text(await client.request(req(server.url))), "ok");
      assertEquals(await text(await client.request(req(server.url))), "ok");
      assertEquals(server.state.connections, 2);
    },
  );
});

Deno.test("UpstreamClient reads no body after HEAD, 204 and 304 and keeps the connection", async () => {
  await withServer((n) => [
    n === 0
      ? "HTTP/1.1 200 OK\r\ncontent-length: 50\r\n\r\n"
      : n === 1
      ? "HTTP/1.1 204 No Content\r\n\r\n"
      : n === 2
      ? "HTTP/1.1 304 Not Modified\r\ncontent-length: 10\r\n\r\n"
      : "HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nlast",
  ], async (server, client) => {
    const head = await client.request(req(server.url, "", { method: "HEAD" }));
    assertEquals([head.status, await text(head)], [200, ""]);
    const empty = await client.request(req(server.url));
    assertEquals([empty.status, await empty.read()], [204, null]);
    const notModified = await client.request(req(server.url));
    assertEquals([notModified.status, await text(notModified)], [304, ""]);
    assertEquals(await text(await client.request(req(server.url))), "last");
    assertEquals(server.state.connections, 1);
  });
});

Deno.test("UpstreamClient skips an informational 100 Continue before the answer", async () => {
  await withServer(() => [
    "HTTP/1.1 100 Continue\r\n\r\n",
    "HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nyes",
  ], async (server, client) => {
    const res = await client.request(req(server.url));
    assertEquals([res.status, await text(res)], [200, "yes"]);
  });
});

Deno.test("UpstreamClient fails, never truncates silently, when the upstream closes mid-body", async () => {
  await withServer((n) => [
    n === 0
      ? "HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly part"
      : "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4\r\npart\r\n",
    "CLOSE",
  ], async (server, client) => {
    await rejects(client.request(req(server.url)).then(text), /middle of the response body/);
    const chunked = await client.request(req(server.url));
    assertEquals(decoder.decode((await chunked.read())!), "part");
    await rejects(chunked.read(), /middle of the response body/);
  });
});

Deno.test("UpstreamClient rejects malformed framing instead of guessing", async () => {
  await withServer((n) => [
    n === 0
      ? "HTTP/1.1 200 OK\r\ncontent-length: 12abc\r\n\r\n"
      : n === 1
      ? "HTTP/1.1 200 OK\r\ncontent-length: 3, 4\r\n\r\n"
      : "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
  ], async (server, client) => {
    await rejects(client.request(req(server.url)), /malformed Content-Length/);
    await rejects(client.request(req(server.url)), /malformed Content-Length/);
    await rejects(client.request(req(server.url)).then(text), /malformed chunk size/);
  });
});

Deno.test("UpstreamClient does not reuse a connection with bytes left past the answer", async () => {
  await withServer(
    () => ["HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokEXTRA"],
    async (server, client) => {
      assertEquals(await text(await client.request(req(server.url))), "ok");
      assertEquals(await text(await client.request(req(server.url))), "ok");
      assertEquals(server.state.connections, 2);
    },
  );
});

Deno.test("UpstreamClient sends a large body whole, whatever the socket takes per write", async () => {
  const big = "x".repeat(4 * 1024 * 1024);
  await withServer(
    () => ["HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"],
    async (server, client) => {
      assertEquals(await text(await client.request(req(server.url, big))), "ok");
      assertEquals(server.state.bodies[0]?.length, big.length);
    },
  );
});

Deno.test("UpstreamClient resends on a fresh connection when a pooled one was closed by the server", async () => {
  const closed = Promise.withResolvers<void>();
  await withServer(
    (n) =>
      n === 0
        ? ["HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok", "CLOSE", () => closed.resolve()]
        : ["HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nyes"],
    async (server, client) => {
      assertEquals(await text(await client.request(req(server.url))), "ok");
      await closed.promise;
      assertEquals(await text(await client.request(req(server.url))), "yes");
      assertEquals(server.state.connections, 2);
    },
  );
});

Deno.test("UpstreamClient aborts a request in flight by closing its connection", async () => {
  const release = Promise.withResolvers<void>();
  await withServer(
    () => [
      "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
      "2\r\nhi\r\n",
      () => release.promise,
    ],
    async (server, client) => {
      try {
        const abort = new AbortController();
        const res = await client.request(req(server.url, "{}", { signal: abort.signal }));
        assertEquals(decoder.decode((await res.read())!), "hi");
        const reading = res.read();
        abort.abort("client");
        await rejects(reading, (error: Error) => error.name === "AbortError");
        const refused = new AbortController();
        refused.abort("client");
        await rejects(
          client.request(req(server.url, "{}", { signal: refused.signal })),
          (error: Error) => error.name === "AbortError",
        );
      } finally {
        release.resolve();
      }
    },
  );
});

Deno.test("UpstreamClient rejects when nothing listens", async () => {
  // Port 1 (tcpmux) is privileged and unused: unlike a freed ephemeral port, no test in a
  // parallel run can take it meanwhile.
  const url = "http://127.0.0.1:1";
  const client = new UpstreamClient();
  await rejects(
    client.request(req(url)),
    (error: Error) => error instanceof Deno.errors.ConnectionRefused,
  );
  client.close();
});
