import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { chat, MODEL, startEchoUpstream, startRig, waitFor } from "./testing.ts";

const encoder = new TextEncoder();
const latin1 = new TextDecoder("latin1");

/** A replica on a raw TCP socket whose every POST is answered by a script writing raw bytes. */
interface ScriptedReplica {
  url: string;
  /** POSTs read, on any connection. */
  posts: number;
  close(): Promise<void>;
}

/**
 * Starts a scripted replica on 127.0.0.1: GETs (health probes, scrapes) get a plain answer on a
 * kept-alive connection; a POST is read whole, then `script` writes what it likes and the
 * connection closes when the script returns.
 */
function scriptedReplica(script: (conn: Deno.TcpConn) => Promise<void>): ScriptedReplica {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.TcpConn>();
  const handlers: Promise<void>[] = [];
  const replica: ScriptedReplica = {
    url: `http://127.0.0.1:${listener.addr.port}`,
    posts: 0,
    async close() {
      listener.close();
      for (const conn of conns) conn.close();
      conns.clear();
      await accepting;
      await Promise.all(handlers);
    },
  };
  async function serve(conn: Deno.TcpConn): Promise<void> {
    const buf = new Uint8Array(16 * 1024);
    let text = "";
    const more = async () => {
      const n = await conn.read(buf);
      if (n === null) return false;
      text += latin1.decode(buf.subarray(0, n));
      return true;
    };
    for (;;) {
      let end = text.indexOf("\r\n\r\n");
      while (end < 0) {
        if (!await more()) return;
        end = text.indexOf("\r\n\r\n");
      }
      const head = text.slice(0, end);
      const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
      while (text.length < end + 4 + length) if (!await more()) return;
      text = text.slice(end + 4 + length);
      if (!head.startsWith("POST ")) {
        const status = head.startsWith("GET /health ") ? "200 OK" : "404 Not Found";
        await write(conn, `HTTP/1.1 ${status}\r\ncontent-length: 0\r\n\r\n`);
        continue;
      }
      replica.posts++;
      await script(conn);
      return;
    }
  }
  const accepting = (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      handlers.push(
        serve(conn).catch(() => {}).finally(() => {
          if (conns.delete(conn)) conn.close();
        }),
      );
    }
  })().catch(() => {});
  return replica;
}

async function write(conn: Deno.Conn, text: string): Promise<void> {
  const bytes = encoder.encode(text);
  for (let at = 0; at < bytes.byteLength;) at += await conn.write(bytes.subarray(at));
}

/** Resolves once the peer has closed `conn` (the gateway let go of the upstream body). */
async function peerClosed(conn: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(1024);
  while (await conn.read(buf) !== null) { /* discard */ }
}

function post(url: string, body: unknown): Promise<Response> {
  return fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

interface ListedBackend {
  id: string;
  in_flight: number;
  failed: number;
}

async function listedBackends(url: string): Promise<ListedBackend[]> {
  return (await (await fetch(`${url}/api/backends`)).json()).backends;
}

Deno.test("an upstream header the gateway cannot relay answers 502 and gives the backend back", async () => {
  const cases: [string, string, boolean][] = [
    ["a header name with a space, streamed", "x bad: 1", true],
    ["a header value with a NUL, streamed", "x-note: a\0b", true],
    ["a header value with a bare CR, whole JSON", "x-note: a\rb", false],
    [
      "a header value with a control character Deno's writer panics on, streamed",
      "x-note: a\x01b",
      true,
    ],
  ];
  for (const [what, line, stream] of cases) {
    let released: Promise<void> | undefined;
    const replica = scriptedReplica(async (conn) => {
      const body = stream ? 'data: {"choices":[]}\n\n' : "{}";
      const framing = stream ? "content-type: text/event-stream" : "content-length: 2";
      await write(conn, `HTTP/1.1 200 OK\r\n${framing}\r\n${line}\r\n\r\n${body}`);
      // A stream is held open: only the gateway cancelling the upstream body ends it.
      if (stream) await (released = peerClosed(conn));
    });
    const rig = await startRig({
      replicas: 0,
      models: [{ name: MODEL, endpoints: [replica.url] }],
    });
    try {
      const res = await post(rig.gateway.url, chat("hi", { stream }));
      assertEquals(res.status, 502, what);
      const { error } = await res.json();
      assertEquals(Object.keys(error).sort(), ["code", "message", "param", "type"], what);
      assertEquals([error.code, error.type, error.param], ["bad_gateway", "api_error", null]);
      assert(error.message.includes("cannot be relayed"), error.message);
      assertEquals(rig.gateway.records.recent()[0]?.status, 502, what);
      // The failure is counted on the backend, whose in-flight count is back to 0.
      await waitFor(`${what}: the backend released`, async () => {
        const [backend] = await listedBackends(rig.gateway.url);
        return backend?.failed === 1 && backend.in_flight === 0;
      }, { timeoutMs: 3_000 });
      await released;
    } finally {
      await rig.close();
      await replica.close();
    }
  }
});

Deno.test("a 5xx before the first byte fails over to the next replica", async () => {
  const failing = scriptedReplica((conn) =>
    write(conn, "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 2\r\n\r\n{}")
  );
  const good = await startEchoUpstream();
  const rig = await startRig({
    replicas: 0,
    proxy: { strategy: "round_robin", circuit_failure_threshold: 100 },
    models: [{ name: MODEL, endpoints: [failing.url, good.url] }],
  });
  try {
    for (let i = 0; i < 4; i++) {
      const res = await post(rig.gateway.url, chat(`turn ${i}`));
      assertEquals(res.status, 200);
      assertEquals(res.headers.get("x-turnpike-backend"), new URL(good.url).host);
      await res.body?.cancel();
    }
    assert(failing.posts >= 1, "the failing replica was tried");
    assertEquals(good.seen.length, 4);
    const records = rig.gateway.records.recent();
    assertEquals(records.filter((r) => r.attempts === 2).length, failing.posts);
  } finally {
    await rig.close();
    await failing.close();
    await good.close();
  }
});

Deno.test("a connection closed after the request was written is not retried on another replica", async () => {
  let posts = 0;
  // Both replicas read the request whole, then close without a byte of answer.
  const replicas = [0, 1].map(() => scriptedReplica(() => Promise.resolve(void posts++)));
  const rig = await startRig({
    replicas: 0,
    proxy: { max_retries: 2, circuit_failure_threshold: 100 },
    models: [{ name: MODEL, endpoints: replicas.map((r) => r.url) }],
  });
  try {
    const res = await post(rig.gateway.url, chat("run me once"));
    assertEquals(res.status, 502);
    const { error } = await res.json();
    assertEquals([error.code, error.type], ["bad_gateway", "api_error"]);
    assert(error.message.includes("not retried"), error.message);
    assertEquals(posts, 1);
    assertEquals(rig.gateway.records.recent()[0]?.attempts, 1);
  } finally {
    await rig.close();
    await Promise.all(replicas.map((r) => r.close()));
  }
});

Deno.test("a stream whose head does not come within first_byte_timeout gets a 504 and is not retried", async () => {
  let posts = 0;
  // Both replicas take the request and then say nothing until the gateway lets go.
  const replicas = [0, 1].map(() =>
    scriptedReplica(async (conn) => {
      posts++;
      await peerClosed(conn);
    })
  );
  const rig = await startRig({
    replicas: 0,
    proxy: { first_byte_timeout: 0.3, request_timeout: 30, circuit_failure_threshold: 100 },
    models: [{ name: MODEL, endpoints: replicas.map((r) => r.url) }],
  });
  try {
    const startedAt = performance.now();
    const res = await post(rig.gateway.url, chat("stream me", { stream: true }));
    assertEquals(res.status, 504);
    const { error } = await res.json();
    assertEquals(error.code, "upstream_timeout");
    assert(performance.now() - startedAt < 10_000, "answered long before request_timeout");
    assertEquals(posts, 1);
  } finally {
    await rig.close();
    await Promise.all(replicas.map((r) => r.close()));
  }
});

Deno.test("a non-streamed answer may take longer than first_byte_timeout", async () => {
  const replica = scriptedReplica(async (conn) => {
    await new Promise((resolve) => setTimeout(resolve, 600));
    await write(
      conn,
      "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}",
    );
  });
  const rig = await startRig({
    replicas: 0,
    proxy: { first_byte_timeout: 0.2, request_timeout: 30 },
    models: [{ name: MODEL, endpoints: [replica.url] }],
  });
  try {
    const res = await post(rig.gateway.url, chat("take your time"));
    assertEquals(res.status, 200);
    assertEquals(await res.text(), "{}");
  } finally {
    await rig.close();
    await replica.close();
  }
});

Deno.test("past request_timeout a stream whose client stopped reading gives its backend back", async () => {
  let upstreamClosed: Promise<void> | undefined;
  const replica = scriptedReplica(async (conn) => {
    await write(
      conn,
      "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n",
    );
    const event = `data: {"x":"${"y".repeat(16_000)}"}\n\n`;
    const chunk = `${event.length.toString(16)}\r\n${event}\r\n`;
    // Writes until the buffers between it and the idle client are full, then blocks there.
    upstreamClosed = (async () => {
      try {
        for (let i = 0; i < 2_000; i++) await write(conn, chunk);
      } catch { /* the gateway closed the connection */ }
    })();
    await upstreamClosed;
  });
  const rig = await startRig({
    replicas: 0,
    proxy: { request_timeout: 0.5, circuit_failure_threshold: 100 },
    models: [{ name: MODEL, endpoints: [replica.url] }],
  });
  const client = await Deno.connect({ hostname: "127.0.0.1", port: rig.gateway.port });
  try {
    const body = JSON.stringify(chat("stream and stall", { stream: true }));
    await write(
      client,
      `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
    );
    // Read the head, then stop reading while staying connected.
    await client.read(new Uint8Array(4096));
    await waitFor(
      "the backend given back while the client still holds the connection",
      async () => {
        const [backend] = await listedBackends(rig.gateway.url);
        return backend?.failed === 1 && backend.in_flight === 0;
      },
      { timeoutMs: 5_000 },
    );
    await upstreamClosed;
    const record = rig.gateway.records.recent()[0];
    assert(record?.error?.includes("timed out"), record?.error);
  } finally {
    client.close();
    await rig.close();
    await replica.close();
  }
});
