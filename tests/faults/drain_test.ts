/**
 * SIGTERM under load: a real `main.ts serve` with launched sim replicas drains its streams in
 * flight, refuses new requests (also on a kept-alive connection) with 503, restarts no replica
 * and exits 0.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { GatewayProcess, MODEL } from "../sessions_testing.ts";
import { killLaunchedReplicas, readSse, waitFor } from "./_testing.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A port `p` with `p + 1` free too, for two launched replicas. */
function twoFreePorts(): number {
  for (;;) {
    const first = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = first.addr.port;
    try {
      Deno.listen({ hostname: "127.0.0.1", port: port + 1 }).close();
      return port;
    } catch {
      // Taken: try another pair.
    } finally {
      first.close();
    }
  }
}

/** Sends one request on the raw connection `conn` and reads its response head and body. */
async function exchange(conn: Deno.TcpConn, request: string): Promise<string> {
  await conn.write(encoder.encode(request));
  const buf = new Uint8Array(64 * 1024);
  let text = "";
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) return text;
    text += decoder.decode(buf.subarray(0, n));
    const end = text.indexOf("\r\n\r\n");
    if (end < 0) continue;
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(text.slice(0, end))?.[1];
    if (length !== undefined && text.length >= end + 4 + Number(length)) return text;
  }
}

// Once as on loopback by default, once through the connection guard (proxy.header_timeout), as
// beyond loopback: the guard's relay must pass the drain's streams and refusals on and end.
for (const guarded of [false, true]) {
  Deno.test(`SIGTERM under load${guarded ? ", through the connection guard" : ""}: streams in flight finish, new requests get 503 with Retry-After, no replica restarts, exit 0`, async () => {
    const stateDir = await Deno.makeTempDir({ prefix: "turnpike-drain-" });
    let gateway: GatewayProcess | undefined;
    let conn: Deno.TcpConn | undefined;
    try {
      const configPath = `${stateDir}/turnpike.json`;
      await Deno.writeTextFile(
        configPath,
        JSON.stringify({
          proxy: {
            health_check_interval: 0.5,
            drain_timeout: 30,
            ...(guarded ? { header_timeout: 10 } : {}),
          },
          cluster: { type: "local" },
          models: [{
            name: MODEL,
            replicas: 2,
            base_port: twoFreePorts(),
            command:
              `${Deno.execPath()} run -A ${MAIN} sim --port {port} --model {name} --tokenizer approx`,
            startup_timeout: 60,
          }],
          state_dir: stateDir,
        }),
      );
      gateway = await GatewayProcess.start({ configPath, stateDir, label: "draining gateway" });
      const url = gateway.url;
      await waitFor("both replicas to be healthy", async () => {
        const body = await (await fetch(`${url}/v1/models`)).json();
        return body.data[0]?.turnpike?.healthy === 2;
      }, { timeoutMs: 60_000, everyMs: 100 });
      // A kept-alive connection, opened and used before the signal.
      conn = await Deno.connect({ hostname: "127.0.0.1", port: Number(new URL(url).port) });
      const port = new URL(url).port;
      const health = await exchange(
        conn,
        `GET /health HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\n\r\n`,
      );
      assert(health.startsWith("HTTP/1.1 200"), health);

      // Streams of a few seconds each, all under way before the signal.
      const streams = await Promise.all(Array.from({ length: 4 }, async (_, i) => {
        const res = await fetch(`${url}/v1/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            model: MODEL,
            messages: [{ role: "user", content: `a long story ${i}` }],
            max_tokens: 1200,
            stream: true,
          }),
        });
        assertEquals(res.status, 200);
        const reader = res.body!.getReader();
        const first = await reader.read();
        assert(!first.done);
        return { reader, text: decoder.decode(first.value) };
      }));
      const finishing = streams.map(async (s) => {
        for (;;) {
          const { done, value } = await s.reader.read();
          if (done) return s.text;
          s.text += decoder.decode(value);
        }
      });

      Deno.kill(gateway.pid, "SIGTERM");
      const body = JSON.stringify({ model: MODEL, messages: [{ role: "user", content: "hi" }] });
      const refused = await waitFor(
        "a request on the kept-alive connection to be refused",
        async () => {
          const answer = await exchange(
            conn!,
            `POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\n` +
              `content-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
          );
          return answer.startsWith("HTTP/1.1 503") ? answer : undefined;
        },
        { timeoutMs: 10_000, everyMs: 20 },
      );
      const head = refused.slice(0, refused.indexOf("\r\n\r\n")).toLowerCase();
      assert(head.includes("\r\nretry-after: 2"), head);
      assert(head.includes("\r\nconnection: close"), head);
      const error = JSON.parse(refused.slice(refused.indexOf("\r\n\r\n") + 4)).error;
      assertEquals([error.code, error.type], ["gateway_draining", "server_error"]);
      // A new connection is refused the same way while the streams drain.
      const fresh = await fetch(`${url}/v1/models`);
      assertEquals([fresh.status, fresh.headers.get("retry-after")], [503, "2"]);
      await fresh.body?.cancel();

      for (const text of await Promise.all(finishing)) {
        const got = await readSse(new Response(text));
        assert(got.doneLast && got.error === undefined, text.slice(-300));
        assert(got.events.length > 20, `${got.events.length} events`);
      }
      const status = await gateway.status;
      assertEquals(status.code, 0, gateway.output);
      assert(!/restarting it|exited with code/.test(gateway.output), gateway.output);
      assert(/stopped in \d+ ms/.test(gateway.output), gateway.output);
    } finally {
      conn?.close();
      await gateway?.kill();
      // A failure before the drain stopped them leaves the launched replicas running otherwise.
      await killLaunchedReplicas(stateDir, MODEL, 2);
      await Deno.remove(stateDir, { recursive: true });
    }
  });
}
