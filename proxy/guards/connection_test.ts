import {
  deepStrictEqual as assertEquals,
  ok as assert,
  throws as assertThrows,
} from "node:assert/strict";
import { MODEL, startRig, type TestRig, waitFor } from "../../gateway/testing.ts";
import { parseConfig } from "../../config/mod.ts";
import { headerTimeoutFor, serveGuarded } from "./guarded_serve.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A gateway with its connection guard on: a head gets `proxy.header_timeout` of 1 s. */
function guardedRig(): Promise<TestRig> {
  return startRig({ replicas: 1, proxy: { header_timeout: 1 } });
}

function connect(rig: TestRig): Promise<Deno.TcpConn> {
  return Deno.connect({ hostname: "127.0.0.1", port: rig.gateway.port });
}

/** Runs `body` with a guarded gateway and a raw connection to it, closing both after. */
async function withConnection(body: (rig: TestRig, conn: Deno.TcpConn) => Promise<void>) {
  const rig = await guardedRig();
  const conn = await connect(rig);
  try {
    await body(rig, conn);
  } finally {
    conn.close();
    await rig.close();
  }
}

async function send(conn: Deno.Conn, text: string): Promise<void> {
  const bytes = encoder.encode(text);
  let written = 0;
  while (written < bytes.length) written += await conn.write(bytes.subarray(written));
}

/** Everything `conn` sends until it closes (a reset counts as its end). */
async function readToEnd(conn: Deno.Conn): Promise<string> {
  const buffer = new Uint8Array(16 * 1024);
  let text = "";
  for (;;) {
    const n = await conn.read(buffer).catch(() => null);
    if (n === null) return text;
    text += decoder.decode(buffer.subarray(0, n));
  }
}

/** Reads from `conn` until `text` holds `count` complete responses of `Content-Length` bodies. */
async function readResponses(conn: Deno.Conn, count: number): Promise<string[]> {
  const buffer = new Uint8Array(16 * 1024);
  let text = "";
  const responses: string[] = [];
  while (responses.length < count) {
    const end = text.indexOf("\r\n\r\n");
    const length = end === -1 ? undefined : /content-length: (\d+)/i.exec(text.slice(0, end));
    if (end !== -1 && length && text.length >= end + 4 + Number(length[1])) {
      const size = end + 4 + Number(length[1]);
      responses.push(text.slice(0, size));
      text = text.slice(size);
      continue;
    }
    const n = await conn.read(buffer);
    if (n === null) throw new Error(`the connection closed after ${responses.length} responses`);
    text += decoder.decode(buffer.subarray(0, n));
  }
  return responses;
}

/** Sends a head of `lines` one every `everyMs`, until the gateway closes the connection. */
async function trickle(conn: Deno.Conn, first: string, everyMs: number): Promise<void> {
  await send(conn, first);
  for (let i = 0; i < 100; i++) {
    await new Promise((resolve) => setTimeout(resolve, everyMs));
    try {
      await send(conn, `x-slow-${i}: a\r\n`);
    } catch {
      return;
    }
  }
}

function assertHeadTimeout(text: string, elapsedMs: number): void {
  assert(text.startsWith("HTTP/1.1 408 Request Timeout\r\n"), text);
  assert(/\r\nconnection: close\r\n/i.test(text), text);
  const body = JSON.parse(text.slice(text.indexOf("\r\n\r\n") + 4));
  assertEquals(Object.keys(body.error).sort(), ["code", "message", "param", "type"]);
  assertEquals(body.error.code, "header_timeout");
  assertEquals(body.error.type, "invalid_request_error");
  assert(elapsedMs >= 950 && elapsedMs < 2_500, `closed after ${elapsedMs} ms`);
}

const chat = (rig: TestRig) =>
  rig.client.chat.completions.create({
    model: MODEL,
    messages: [{ role: "user", content: "hello" }],
    max_tokens: 4,
  });

Deno.test("a head trickled a line every 300 ms gets 408 and a closed connection after header_timeout, while other clients are served", () =>
  withConnection(async (rig, conn) => {
    const started = performance.now();
    const trickling = trickle(conn, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n", 300);
    const served = [];
    while (performance.now() - started < 900) served.push(await chat(rig));
    const text = await readToEnd(conn);
    assertHeadTimeout(text, performance.now() - started);
    await trickling;
    assert(served.length >= 2 && served.every((r) => r.choices[0]!.message.content), "served");
  }));

Deno.test("a second request trickled on a kept-alive connection times out like a first one", () =>
  withConnection(async (_rig, conn) => {
    await send(conn, "GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n");
    const [first] = await readResponses(conn, 1);
    assert(first!.startsWith("HTTP/1.1 200"), first);
    const started = performance.now();
    const trickling = trickle(conn, "GET /v1/models HTTP/1.1\r\n", 300);
    assertHeadTimeout(await readToEnd(conn), performance.now() - started);
    await trickling;
  }));

Deno.test("a kept-alive connection idle between requests is not cut by the header timeout", () =>
  withConnection(async (rig, conn) => {
    for (let i = 0; i < 2; i++) {
      await send(conn, "GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n");
      const [response] = await readResponses(conn, 1);
      assert(response!.startsWith("HTTP/1.1 200"), response);
      await new Promise((resolve) => setTimeout(resolve, 1_600));
    }
    assertEquals(rig.gateway.guard?.openConnections, 1);
  }));

Deno.test("pipelined requests with Content-Length and chunked bodies on one connection are all answered", () =>
  withConnection(async (_rig, conn) => {
    const body = JSON.stringify({
      model: MODEL,
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 3,
    });
    const bytes = encoder.encode(body).length;
    const chunked = [body.slice(0, 10), body.slice(10, 11), body.slice(11)]
      .map((piece) => `${encoder.encode(piece).length.toString(16)};x=y\r\n${piece}\r\n`).join("");
    const head =
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n";
    const pipelined = `${head}Content-Length: ${bytes}\r\n\r\n${body}` +
      `${head}Transfer-Encoding: chunked\r\n\r\n${chunked}0\r\nx-trailer: 1\r\n\r\n` +
      "GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n" +
      `${head}Content-Length: ${bytes}\r\n\r\n${body}`;
    // Sent in small pieces, so heads and bodies straddle the guard's reads.
    const all = encoder.encode(pipelined);
    for (let at = 0; at < all.length; at += 7) {
      await conn.write(all.subarray(at, Math.min(all.length, at + 7)));
    }
    const responses = await readResponses(conn, 4);
    assertEquals(responses.map((r) => r.slice(0, 12)), Array(4).fill("HTTP/1.1 200"));
    for (const i of [0, 1, 3]) {
      const json = JSON.parse(responses[i]!.slice(responses[i]!.indexOf("\r\n\r\n") + 4));
      assertEquals(json.object, "chat.completion");
    }
    assert(responses[2]!.includes(MODEL));
  }));

Deno.test("a head the guard cannot follow passes through unchanged: Deno.serve answers as it does without the guard", async () => {
  const guarded = await guardedRig();
  const plain = await startRig({ replicas: 1 });
  try {
    const malformed = [
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      "GET /v1/models HTTP/1.1\r\nHost: x\r\nX-A: b\r\n folded\r\n\r\n",
      "GET /v1/models HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
      "GET /v1/models HTTP/9.9\r\nHost: x\r\n\r\n",
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ];
    for (const request of malformed) {
      const answers = [];
      for (const rig of [plain, guarded]) {
        const conn = await connect(rig);
        try {
          await send(conn, request);
          const text = await readToEnd(conn);
          answers.push(text.slice(0, text.indexOf("\r\n")));
        } finally {
          conn.close();
        }
      }
      assertEquals(answers[1], answers[0], JSON.stringify(request));
      assert(answers[0]!.startsWith("HTTP/1.1 4") || answers[0] === "", answers[0]);
    }
  } finally {
    await plain.close();
    await guarded.close();
  }
});

Deno.test("an SSE stream through the guard reaches the OpenAI SDK chunk by chunk", async () => {
  const rig = await guardedRig();
  try {
    const stream = await rig.client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "stream please" }],
      max_tokens: 12,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let usage: number | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? "";
      usage = chunk.usage?.completion_tokens ?? usage;
    }
    assert(text.length > 0);
    assertEquals(usage, 12);
  } finally {
    await rig.close();
  }
});

Deno.test("a session WebSocket works through the guard, beyond the header timeout", async () => {
  const rig = await guardedRig();
  let ws: WebSocket | undefined;
  try {
    const created = await fetch(`${rig.gateway.url}/v1/sessions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: MODEL }),
    });
    assertEquals(created.status, 201);
    const { id } = await created.json();
    ws = new WebSocket(`${rig.gateway.url.replace("http", "ws")}/v1/sessions/${id}/ws`);
    const inbox: { type: string }[] = [];
    ws.onmessage = (event) => inbox.push(JSON.parse(event.data));
    await new Promise((resolve, reject) => {
      ws!.onopen = resolve;
      ws!.onerror = () => reject(new Error("the socket did not open"));
    });
    // Frames after the upgrade are not a head: the guard must not time them.
    await new Promise((resolve) => setTimeout(resolve, 1_300));
    ws.send(JSON.stringify({ type: "ping" }));
    await waitFor("the pong", () => inbox.some((m) => m.type === "pong"), { timeoutMs: 5_000 });
    ws.send(JSON.stringify({ type: "turn", id: "t1", message: "hello", max_tokens: 4 }));
    await waitFor("the turn", () => inbox.some((m) => m.type === "turn.completed"), {
      timeoutMs: 10_000,
    });
  } finally {
    if (ws) {
      const closed = new Promise((resolve) => ws!.addEventListener("close", resolve));
      ws.close();
      await closed;
    }
    await rig.close();
  }
});

Deno.test("200 slow-loris connections are all closed by the header timeout and the open connections go back down", async () => {
  const rig = await guardedRig();
  const conns: Deno.TcpConn[] = [];
  try {
    for (let i = 0; i < 200; i++) {
      const conn = await connect(rig);
      conns.push(conn);
      await send(conn, "GET /v1/models HTTP/1.1\r\nHost: x\r\n");
    }
    await waitFor("the guard to hold all 200", () => rig.gateway.guard?.openConnections === 200, {
      timeoutMs: 5_000,
    });
    const texts = await Promise.all(conns.map(readToEnd));
    assert(texts.every((t) => t.startsWith("HTTP/1.1 408")), "every one got a 408");
    await waitFor("the connections to close", () => rig.gateway.guard?.openConnections === 0, {
      timeoutMs: 5_000,
    });
    assertEquals(rig.gateway.guard?.pendingHeads, 0);
    assert((await chat(rig)).choices[0]!.message.content, "still serves");
  } finally {
    for (const conn of conns) conn.close();
    await rig.close();
  }
});

Deno.test("close() with the guard drains a stream, refuses a kept-alive request with 503, and ends every connection", async () => {
  const rig = await startRig({ replicas: 1, proxy: { header_timeout: 5 }, sim: { timeScale: 2 } });
  const kept = await connect(rig);
  const loris = await connect(rig);
  try {
    await send(kept, "GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n");
    await readResponses(kept, 1);
    await send(loris, "GET /v1/models HTTP/1.1\r\n");
    const stream = await rig.client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "a longer answer" }],
      max_tokens: 40,
      stream: true,
    });
    const iterator = stream[Symbol.asyncIterator]();
    await iterator.next();
    const started = performance.now();
    const closing = rig.gateway.close({ deadlineMs: 3_000 });
    await send(kept, "GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n");
    const refused = await readToEnd(kept);
    assert(refused.startsWith("HTTP/1.1 503"), refused);
    assert(/\r\nconnection: close\r\n/i.test(refused), refused);
    let chunks = 1;
    while (!(await iterator.next()).done) chunks++;
    assert(chunks > 5, `the stream finished with ${chunks} chunks`);
    await closing;
    assert(performance.now() - started < 4_000);
    assertEquals(await readToEnd(loris), "");
    assertEquals(rig.gateway.guard?.openConnections, 0);
    await Deno.connect({ hostname: "127.0.0.1", port: rig.gateway.port }).then(
      (conn) => {
        conn.close();
        throw new Error("the port still accepts");
      },
      (error) => assert(error instanceof Deno.errors.ConnectionRefused, String(error)),
    );
  } finally {
    kept.close();
    loris.close();
    await rig.close();
  }
});

Deno.test("a shutdown behind the guard passes on every byte Deno.serve wrote before it closed, to a client reading slowly", async () => {
  const size = 4 << 20;
  const body = new Uint8Array(size).fill(120);
  const server = await serveGuarded(
    { hostname: "127.0.0.1", port: 0, headerTimeoutS: 5 },
    () => new Response(body),
  );
  let shutdown: Promise<void> | undefined;
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    try {
      await send(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
      const buffer = new Uint8Array(64 * 1024);
      let received = 0;
      let reads = 0;
      for (;;) {
        const n = await conn.read(buffer).catch(() => null);
        if (n === null) break;
        received += n;
        // Deno.serve's shutdown waits for the answer, which ends in the sockets' buffers while
        // this client is still reading: those bytes must follow.
        if (++reads === 1) shutdown = server.shutdown();
        if (reads % 8 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      }
      assert(received > size, `${received} bytes of a ${size}-byte body and its head`);
    } finally {
      conn.close();
    }
  } finally {
    await (shutdown ?? server.shutdown());
  }
});

Deno.test("the guard is off on loopback unless header_timeout is set, on at 10 s beyond loopback, and 0 turns it off", async () => {
  assertEquals(headerTimeoutFor(undefined, "127.0.0.1"), 0);
  assertEquals(headerTimeoutFor(undefined, "::1"), 0);
  assertEquals(headerTimeoutFor(undefined, "0.0.0.0"), 10);
  assertEquals(headerTimeoutFor(undefined, "10.1.2.3"), 10);
  assertEquals(headerTimeoutFor(0, "0.0.0.0"), 0);
  assertEquals(headerTimeoutFor(2.5, "127.0.0.1"), 2.5);
  const plain = await startRig({ replicas: 1 });
  try {
    assertEquals(plain.gateway.guard, undefined);
  } finally {
    await plain.close();
  }
  assertEquals(parseConfig("proxy: {header_timeout: 0}\n", "t.yaml").proxy.header_timeout, 0);
  for (const bad of ["-1", "false", '"10"']) {
    assertThrows(
      () => parseConfig(`proxy: {header_timeout: ${bad}}\n`, "t.yaml"),
      /proxy\.header_timeout: expected a number from 0 to 3600/,
    );
  }
});
