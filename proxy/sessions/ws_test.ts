import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { MODEL, startRig, type TestRig, waitFor } from "../../gateway/testing.ts";
import { firstText, type ServerMessage, TestSocket, textOf } from "./_testing.ts";

async function createSession(rig: TestRig, extra: Record<string, unknown> = {}): Promise<string> {
  const created = await fetch(`${rig.gateway.url}/v1/sessions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: MODEL, system: "You are terse.", ...extra }),
  });
  assertEquals(created.status, 201);
  return (await created.json()).id;
}

async function history(rig: TestRig, id: string) {
  const res = await fetch(`${rig.gateway.url}/v1/sessions/${id}/history`);
  assertEquals(res.status, 200);
  return (await res.json()).data as {
    turn: number;
    status: string;
    output: { content: string | null }[];
  }[];
}

Deno.test("a session socket carries a multi-turn conversation that the history keeps", async () => {
  const rig = await startRig({ replicas: 1 });
  let socket: TestSocket | undefined;
  try {
    const id = await createSession(rig);
    socket = await TestSocket.open(rig, id);
    socket.send({ type: "ping" });
    assertEquals(await socket.next(), { type: "pong" });
    const replies: string[] = [];
    for (let n = 1; n <= 3; n++) {
      socket.send({ type: "turn", id: `c${n}`, message: `question ${n}`, max_tokens: 6 });
      const seen: ServerMessage[] = await socket.until("turn.completed", "error");
      assertEquals(seen[0], { type: "turn.started", turn: n, id: `c${n}` });
      const done = seen.at(-1)!;
      assertEquals(done.type, "turn.completed", JSON.stringify(done));
      assertEquals(done.turn, n);
      assertEquals(done.id, `c${n}`);
      assert(seen.slice(1, -1).every((m) => m.type === "chunk" && m.turn === n));
      const text = textOf(seen);
      assert(text.length > 0);
      assertEquals(done.message, { role: "assistant", content: text });
      assertEquals(done.finish_reason, "length");
      assertEquals(done.usage?.completion_tokens, 6);
      replies.push(text);
    }
    const turns = await history(rig, id);
    assertEquals(turns.map((t) => [t.turn, t.status, t.output[0]?.content]), [
      [1, "completed", replies[0]],
      [2, "completed", replies[1]],
      [3, "completed", replies[2]],
    ]);
  } finally {
    await socket?.close();
    await rig.close();
  }
});

Deno.test("a cancel frame ends the turn in flight with its partial reply kept", async () => {
  const rig = await startRig({ replicas: 1, sim: { timeScale: 1 } });
  let socket: TestSocket | undefined;
  try {
    const id = await createSession(rig);
    socket = await TestSocket.open(rig, id);
    socket.send({ type: "turn", message: "write a long story", max_tokens: 400 });
    const before = await firstText(socket);
    assertEquals(before[0], { type: "turn.started", turn: 1 });
    socket.send({ type: "cancel" });
    const seen = [...before, ...await socket.until("turn.cancelled", "turn.completed", "error")];
    const end = seen.at(-1)!;
    assertEquals(end.type, "turn.cancelled", JSON.stringify(end));
    assertEquals(end.turn, 1);
    assertEquals(seen.at(-2)?.chunk?.choices[0]?.finish_reason, "cancelled");
    const partial = textOf(seen);
    assertEquals(end.message, { role: "assistant", content: partial });
    const turns = await history(rig, id);
    assertEquals(turns.length, 1);
    assertEquals(turns[0]!.status, "cancelled");
    assertEquals(turns[0]!.output[0]?.content, partial);
    assert(partial.split(" ").length < 400);
  } finally {
    await socket?.close();
    await rig.close();
  }
});

Deno.test("a bad frame gets an error and the socket keeps working", async () => {
  const rig = await startRig({ replicas: 1 });
  let socket: TestSocket | undefined;
  try {
    const id = await createSession(rig);
    socket = await TestSocket.open(rig, id);
    socket.send("{not json");
    const bad = await socket.next();
    assertEquals([bad.type, bad.turn, bad.error?.code], ["error", null, "invalid_json"]);
    socket.send({ type: "dance" });
    assertEquals((await socket.next()).error?.code, "invalid_request");
    socket.send({ type: "turn", id: "x", messages: [{ role: "wizard", content: "hi" }] });
    const badTurn = await socket.next();
    assertEquals([badTurn.type, badTurn.id, badTurn.error?.code], [
      "error",
      "x",
      "invalid_request",
    ]);
    assertEquals(badTurn.error?.type, "invalid_request_error");
    socket.send({ type: "cancel" });
    assertEquals((await socket.next()).error?.code, "no_turn_in_flight");
    socket.send({ type: "turn", messages: [{ role: "user", content: "hi" }], max_tokens: 3 });
    const seen = await socket.until("turn.completed", "error");
    assertEquals(seen.at(-1)?.type, "turn.completed");
    assertEquals(seen.at(-1)?.turn, 1);
  } finally {
    await socket?.close();
    await rig.close();
  }
});

/** The status line of a raw WebSocket handshake to `path`. */
async function handshakeStatus(rig: TestRig, path: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: rig.gateway.port });
  try {
    await conn.write(new TextEncoder().encode(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    ));
    const buf = new Uint8Array(4096);
    const n = await conn.read(buf);
    return new TextDecoder().decode(buf.subarray(0, n ?? 0)).split("\r\n")[0]!;
  } finally {
    conn.close();
  }
}

Deno.test("an unknown session is a 404 without an upgrade; a plain GET is a 400", async () => {
  const rig = await startRig({ replicas: 1 });
  try {
    const unknown = `sess_${"0".repeat(24)}`;
    assertEquals(
      await handshakeStatus(rig, `/v1/sessions/${unknown}/ws`),
      "HTTP/1.1 404 Not Found",
    );
    const bad = await fetch(`${rig.gateway.url}/v1/sessions/not-an-id/ws`);
    assertEquals(bad.status, 404);
    assertEquals((await bad.json()).error.code, "session_not_found");
    const id = await createSession(rig);
    const plain = await fetch(`${rig.gateway.url}/v1/sessions/${id}/ws`);
    assertEquals(plain.status, 400);
    const body = await plain.json();
    assertEquals([body.error.type, body.error.code], [
      "invalid_request_error",
      "websocket_required",
    ]);
    assert((await handshakeStatus(rig, `/v1/sessions/${id}/ws`)).startsWith("HTTP/1.1 101"));
  } finally {
    await rig.close();
  }
});

Deno.test("a second turn while one runs is refused as session_busy", async () => {
  const rig = await startRig({ replicas: 1, sim: { timeScale: 1 } });
  let socket: TestSocket | undefined;
  try {
    const id = await createSession(rig);
    socket = await TestSocket.open(rig, id);
    socket.send({ type: "turn", message: "write a long story", max_tokens: 400 });
    await firstText(socket);
    socket.send({ type: "turn", id: "second", message: "and another" });
    const seen = await socket.until("error");
    const busy = seen.at(-1)!;
    assertEquals([busy.turn, busy.id, busy.error?.code], [null, "second", "session_busy"]);
    socket.send({ type: "cancel" });
    assertEquals((await socket.until("turn.cancelled")).at(-1)?.turn, 1);
    assertEquals((await history(rig, id)).length, 1);
  } finally {
    await socket?.close();
    await rig.close();
  }
});

Deno.test("a queueing session runs a second turn after the first on the same socket", async () => {
  const rig = await startRig({ replicas: 1 });
  let socket: TestSocket | undefined;
  try {
    const id = await createSession(rig, { on_busy: "queue" });
    socket = await TestSocket.open(rig, id);
    socket.send({ type: "turn", id: "a", message: "one", max_tokens: 20 });
    socket.send({ type: "turn", id: "b", message: "two", max_tokens: 4 });
    const ends = (await socket.until("turn.completed")).filter((m) => m.type !== "chunk");
    ends.push(...(await socket.until("turn.completed")).filter((m) => m.type !== "chunk"));
    const byId = Object.fromEntries(
      ends.filter((m) => m.type === "turn.completed").map((m) => [m.id, m.turn]),
    );
    assertEquals(byId, { a: 1, b: 2 });
    assertEquals((await history(rig, id)).map((t) => t.status), ["completed", "completed"]);
  } finally {
    await socket?.close();
    await rig.close();
  }
});

Deno.test("closing the socket mid-turn aborts it and frees the session", async () => {
  const rig = await startRig({ replicas: 1, sim: { timeScale: 1 } });
  let socket: TestSocket | undefined;
  try {
    const id = await createSession(rig);
    socket = await TestSocket.open(rig, id);
    socket.send({ type: "turn", message: "write a long story", max_tokens: 400 });
    await firstText(socket);
    await socket.close();
    await waitFor("the turn to be abandoned", async () => {
      const head = await (await fetch(`${rig.gateway.url}/v1/sessions/${id}`)).json();
      return head.turn_in_flight === null;
    }, { timeoutMs: 5_000 });
    await waitFor("the replica to stop the sequence", () => rig.sims[0]!.engine.numRunning === 0, {
      timeoutMs: 5_000,
    });
    assertEquals(await history(rig, id), []);
    socket = await TestSocket.open(rig, id);
    socket.send({ type: "turn", message: "short", max_tokens: 2 });
    assertEquals((await socket.until("turn.completed", "error")).at(-1)?.type, "turn.completed");
  } finally {
    await socket?.close();
    await rig.close();
  }
});
