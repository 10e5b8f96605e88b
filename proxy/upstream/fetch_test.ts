import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { fetchUpstream } from "./fetch.ts";

Deno.test("fetchUpstream gives fetch's answer the upstream interface, without hop-by-hop headers", async () => {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const body = await request.text();
    return new Response(`${request.method} ${new URL(request.url).pathname} ${body}`, {
      headers: { "content-type": "text/plain", "x-mine": "1", "keep-alive": "timeout=5" },
    });
  });
  try {
    const res = await fetchUpstream({
      method: "POST",
      baseUrl: `http://127.0.0.1:${server.addr.port}/`,
      path: "/v1/x",
      headers: [["content-type", "application/json"]],
      body: new TextEncoder().encode("{}"),
      signal: new AbortController().signal,
    });
    assertEquals([res.status, res.contentType], [200, "text/plain"]);
    assertEquals(
      res.headers.some(([name]) => name === "keep-alive" || name === "content-length"),
      false,
    );
    assertEquals(res.headers.find(([name]) => name === "x-mine"), ["x-mine", "1"]);
    assertEquals(new TextDecoder().decode(await res.bytes()), "POST /v1/x {}");
  } finally {
    await server.shutdown();
  }
});
