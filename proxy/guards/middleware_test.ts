import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { chat, startRig, type TestRig } from "../../gateway/testing.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Sends `head` (and `body` pieces, one every `gapMs`) on a raw socket; the status line and body back, or "closed". */
async function raw(
  rig: TestRig,
  head: string,
  body: string[] = [],
  gapMs = 0,
): Promise<{ status: number; body: string } | "closed"> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: rig.gateway.port });
  try {
    await conn.write(encoder.encode(head));
    const writing = (async () => {
      for (const piece of body) {
        if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
        await conn.write(encoder.encode(piece)).catch(() => {});
      }
    })();
    let text = "";
    const buf = new Uint8Array(65536);
    for (;;) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) break;
      text += decoder.decode(buf.subarray(0, n));
      const end = text.indexOf("\r\n\r\n");
      const length = /content-length: (\d+)/i.exec(text)?.[1];
      if (end !== -1 && length !== undefined && text.length >= end + 4 + Number(length)) break;
    }
    await writing;
    if (text === "") return "closed";
    return { status: Number(text.split(" ")[1]), body: text.slice(text.indexOf("\r\n\r\n") + 4) };
  } finally {
    conn.close();
  }
}

function errorOf(answer: { status: number; body: string } | "closed") {
  if (answer === "closed") return "closed";
  const error = JSON.parse(answer.body).error;
  return [answer.status, error.code, typeof error.message, error.type];
}

Deno.test("the guards answer 431, 413 and 400 in OpenAI's shape over real HTTP", async () => {
  const rig = await startRig({
    replicas: 1,
    proxy: { max_header_count: 24, max_header_bytes: 2048, max_body_bytes: 1024 },
  });
  try {
    const url = `${rig.gateway.url}/v1/chat/completions`;
    const many: Record<string, string> = {};
    for (let i = 0; i < 30; i++) many[`x-extra-${i}`] = "1";
    const tooMany = await fetch(url, { method: "POST", headers: many, body: "{}" });
    const tooLong = await fetch(url, { method: "POST", headers: { "x-big": "a".repeat(3000) } });
    const answers = [
      [tooMany.status, (await tooMany.json()).error.code],
      [tooLong.status, (await tooLong.json()).error.code],
    ];
    assertEquals(answers, [[431, "request_header_fields_too_large"], [
      431,
      "request_header_fields_too_large",
    ]]);
    // A chunked body without Content-Length, to a session route and to the hot path.
    const chunked = (path: string) =>
      `POST ${path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n` +
      `transfer-encoding: chunked\r\nconnection: close\r\n\r\n`;
    const big = JSON.stringify({ model: "m", system: "s".repeat(2000) });
    const piece = (text: string) => `${text.length.toString(16)}\r\n${text}\r\n`;
    for (const path of ["/v1/sessions", "/v1/chat/completions", "/api/backends"]) {
      const answer = await raw(rig, chunked(path), [piece(big), "0\r\n\r\n"]);
      assertEquals([path, errorOf(answer)], [path, [
        413,
        "request_too_large",
        "string",
        "invalid_request_error",
      ]]);
    }
    // Every :id route answers a hostile id with an OpenAI-shaped 400 or 404, never a 5xx.
    const ids = ["a%2F..%2Fb", "x%00y", "%E0%A4%A", "..%2f..%2fetc", "%2e%2e", "a".repeat(5000)];
    const routes: [string, string][] = [
      ["GET", "/v1/sessions/ID"],
      ["DELETE", "/v1/sessions/ID"],
      ["GET", "/v1/sessions/ID/history"],
      ["POST", "/v1/sessions/ID/cancel"],
      ["GET", "/v1/responses/ID"],
      ["GET", "/v1/responses/ID/input_items"],
      ["GET", "/v1/conversations/ID"],
      ["GET", "/v1/conversations/ID/items/ID"],
      ["POST", "/api/backends/ID/heartbeat"],
      ["DELETE", "/api/backends/ID"],
      ["GET", "/api/keys/ID"],
    ];
    for (const id of ids) {
      for (const [method, route] of routes) {
        const path = route.replaceAll("ID", id);
        const response = await fetch(`${rig.gateway.url}${path}`, { method });
        const body = await response.json();
        assertEquals(
          [route, id.slice(0, 12), [400, 404].includes(response.status), typeof body.error.message],
          [route, id.slice(0, 12), true, "string"],
        );
      }
    }
    const ok = await rig.client.chat.completions.create(chat("still fine"));
    assertEquals(typeof ok.choices[0]?.message.content, "string");
  } finally {
    await rig.close();
  }
});

Deno.test("a client trickling its body gets 408 at proxy.body_timeout, on the hot path and the session routes", async () => {
  const rig = await startRig({ replicas: 1, proxy: { body_timeout: 0.3 } });
  try {
    const body = JSON.stringify(chat("slow"));
    for (const path of ["/v1/chat/completions", "/v1/sessions"]) {
      const head = `POST ${path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n` +
        `content-length: ${body.length}\r\n\r\n`;
      // The first bytes arrive, then one more every 200 ms: the whole body would take seconds.
      const pieces = [body.slice(0, 5), ...body.slice(5, 20).split("")];
      const answer = await raw(rig, head, pieces, 200);
      assertEquals([path, errorOf(answer)], [path, [
        408,
        "body_timeout",
        "string",
        "invalid_request_error",
      ]]);
    }
  } finally {
    await rig.close();
  }
});
