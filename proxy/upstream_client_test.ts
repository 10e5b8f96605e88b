import { deepStrictEqual as assertEquals, rejects } from "node:assert/strict";
import { UpstreamClient } from "./upstream_client.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A raw HTTP server that answers each request with scripted pieces, counting connections. */
function rawServer(answer: (n: number) => (string | number | (() => Promise<void>))[]) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const state = { connections: 0, requests: 0, bodies: [] as string[], conns: [] as Deno.Conn[] };
  const serving = (async () => {
    for await (const conn of listener) {
      state.connections++;
      state.conns.push(conn);
      (async () => {
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
              state.bodies.push(text.slice(end + 4, end + 4 + length));
              text = text.slice(end + 4 + length);
              for (const piece of answer(state.requests++)) {
                if (typeof piece === "function") await piece();
                else if (typeof piece === "number") await new Promise((r) => setTimeout(r, piece));
                else if (piece === "CLOSE") conn.close();
                else await conn.write(encoder.encode(piece));
              }
            }
          }
        } catch {
          // Closed.
        }
      })();
    }
  })();
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    state,
    async close() {
      listener.close();
      for (const c of state.conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await serving.catch(() => {});
    },
  };
}

function req(url: string, body = "{}", signal = new AbortController().signal) {
  return {
    method: "POST",
    baseUrl: url,
    path: "/v1/x",
    headers: [["content-type", "application/json"]] as [string, string][],
    body: encoder.encode(body),
    signal,
  };
}

Deno.test("UpstreamClient reads a Content-Length answer and reuses the connection", async () => {
  const server = rawServer(
    () => [
      "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n",
      '{"ok":true}',
    ],
  );
  const client = new UpstreamClient();
  try {
    for (let i = 0; i < 3; i++) {
      const res = await client.request(req(server.url, `{"i":${i}}`));
      assertEquals([res.status, res.contentType, res.contentLength], [200, "application/json", 11]);
      assertEquals(res.headers, [["content-type", "application/json"]]);
      assertEquals(decoder.decode(await res.bytes()), '{"ok":true}');
    }
    assertEquals(server.state.connections, 1);
    assertEquals(server.state.bodies, ['{"i":0}', '{"i":1}', '{"i":2}']);
  } finally {
    client.close();
    await server.close();
  }
});

Deno.test("UpstreamClient de-chunks a chunked stream and hands over each piece as it arrives", async () => {
  let gate = Promise.withResolvers<void>();
  const server = rawServer(() => [
    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n",
    "6\r\ndata: ",
    () => gate.promise,
    "\r\n",
    "3;ext=1\r\na\n\n\r\n",
    "0\r\n",
    "\r\n",
  ]);
  const client = new UpstreamClient();
  try {
    for (let round = 0; round < 2; round++) {
      gate = Promise.withResolvers<void>();
      const res = await client.request(req(server.url));
      assertEquals(res.contentLength, undefined);
      assertEquals(res.headers, [["content-type", "text/event-stream"]]);
      // The first piece comes while the upstream still holds back the rest.
      assertEquals(decoder.decode((await res.read())!), "data: ");
      gate.resolve();
      let text = "";
      for (let piece = await res.read(); piece !== null; piece = await res.read()) {
        text += decoder.decode(piece);
      }
      assertEquals(text, "a\n\n");
    }
    assertEquals(server.state.connections, 1);
  } finally {
    client.close();
    await server.close();
  }
});

Deno.test("UpstreamClient reads to the end when the upstream closes instead of framing", async () => {
  const server = rawServer(
    () => ["HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nall of it", "CLOSE"],
  );
  const client = new UpstreamClient();
  try {
    const res = await client.request(req(server.url));
    assertEquals(decoder.decode(await res.bytes()), "all of it");
    const again = await client.request(req(server.url));
    assertEquals(decoder.decode(await again.bytes()), "all of it");
    assertEquals(server.state.connections, 2);
  } finally {
    client.close();
    await server.close();
  }
});

Deno.test("UpstreamClient resends on a fresh connection when a pooled one was closed by the server", async () => {
  const server = rawServer((n) =>
    n === 0
      ? ["HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok", 20, "CLOSE"]
      : ["HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nyes"]
  );
  const client = new UpstreamClient();
  try {
    assertEquals(decoder.decode(await (await client.request(req(server.url))).bytes()), "ok");
    await new Promise((r) => setTimeout(r, 60));
    assertEquals(decoder.decode(await (await client.request(req(server.url))).bytes()), "yes");
    assertEquals(server.state.connections, 2);
  } finally {
    client.close();
    await server.close();
  }
});

Deno.test("UpstreamClient aborts a request in flight by closing its connection", async () => {
  const server = rawServer(
    () => ["HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n", "2\r\nhi\r\n", 300],
  );
  const client = new UpstreamClient();
  try {
    const abort = new AbortController();
    const res = await client.request(req(server.url, "{}", abort.signal));
    assertEquals(decoder.decode((await res.read())!), "hi");
    setTimeout(() => abort.abort("client"), 10);
    await rejects(res.read(), (error: Error) => error.name === "AbortError");
    const refused = new AbortController();
    refused.abort("client");
    await rejects(
      client.request(req(server.url, "{}", refused.signal)),
      (error: Error) => error.name === "AbortError",
    );
  } finally {
    client.close();
    await server.close();
  }
});

Deno.test("UpstreamClient rejects when nothing listens", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const url = `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`;
  listener.close();
  const client = new UpstreamClient();
  await rejects(
    client.request(req(url)),
    (error: Error) => error instanceof Deno.errors.ConnectionRefused,
  );
  client.close();
});
