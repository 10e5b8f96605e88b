import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import OpenAI from "openai";
import { MODEL, startEchoUpstream, startRig } from "../gateway/testing.ts";
import { GatewayHttp, TurnpikeError } from "./http.ts";

const notFound = {
  error: {
    message: "Session x not found",
    type: "invalid_request_error",
    param: null,
    code: "session_not_found",
  },
};

Deno.test("TurnpikeError.fromResponse keeps an OpenAI error body and wraps any other body", async () => {
  const kept = await TurnpikeError.fromResponse(
    Response.json(notFound, { status: 409, headers: { "retry-after": "2" } }),
  );
  assertEquals([kept.status, kept.body, kept.retryAfterSeconds], [409, notFound, 2]);
  assertEquals([kept.code, kept.type, kept.param], [
    "session_not_found",
    "invalid_request_error",
    null,
  ]);
  assertEquals(kept.message, "409 Session x not found");
  const text = await TurnpikeError.fromResponse(new Response("bad gateway", { status: 502 }));
  assertEquals([text.status, text.body.error.message, text.type, text.code], [
    502,
    "bad gateway",
    "api_error",
    null,
  ]);
  const empty = await TurnpikeError.fromResponse(new Response(null, { status: 503 }));
  assertEquals(empty.body.error.message, "The gateway answered HTTP 503 without a body");
  assertEquals(empty.retryAfterSeconds, undefined);
});

Deno.test("TurnpikeError.fromOpenAI maps API errors, a mid-stream one to 502, and passes others on", () => {
  const refused = TurnpikeError.fromOpenAI(
    new OpenAI.APIError(404, notFound.error, undefined, new Headers()),
  );
  assert(refused instanceof TurnpikeError);
  assertEquals([refused.status, refused.body], [404, notFound]);
  const midStream = TurnpikeError.fromOpenAI(
    new OpenAI.APIError(
      undefined,
      { message: "cut", code: "upstream_error" },
      undefined,
      undefined,
    ),
  );
  assert(midStream instanceof TurnpikeError);
  assertEquals([midStream.status, midStream.code, midStream.type], [
    502,
    "upstream_error",
    "api_error",
  ]);
  const connection = new OpenAI.APIConnectionError({ message: "refused" });
  assertEquals(TurnpikeError.fromOpenAI(connection), connection);
  const other = new TypeError("boom");
  assertEquals(TurnpikeError.fromOpenAI(other), other);
});

Deno.test("GatewayHttp sends the API key and the latest headers with every call", async () => {
  const echo = await startEchoUpstream();
  try {
    const headers: Record<string, string> = { "X-Task-ID": "t1" };
    const http = new GatewayHttp({ baseURL: `${echo.url}/`, apiKey: "sk-test", headers });
    assertEquals(await http.json("/v1/echo", { method: "POST", body: { a: 1 } }), { a: 1 });
    headers["X-Timing-Pre-Ms"] = "12";
    await http.json("/v1/echo", { method: "POST", body: { b: 2 } });
    const [first, second] = echo.seen;
    assertEquals(first?.path, "/v1/echo");
    assertEquals(
      [
        first?.headers["authorization"],
        first?.headers["x-task-id"],
        first?.headers["content-type"],
      ],
      ["Bearer sk-test", "t1", "application/json"],
    );
    assertEquals(first?.headers["x-timing-pre-ms"], undefined);
    assertEquals(second?.headers["x-timing-pre-ms"], "12");
  } finally {
    await echo.close();
  }
});

Deno.test("GatewayHttp leaves undefined query values out of the URL", async () => {
  const rig = await startRig({ replicas: 1 });
  try {
    const http = new GatewayHttp({ baseURL: rig.gateway.url });
    await http.json("/v1/sessions", { method: "POST", body: { model: MODEL } });
    const page = await http.json<{ data: unknown[] }>("/v1/sessions", {
      query: { task_id: undefined, limit: 5 },
    });
    assertEquals(page.data.length, 1);
  } finally {
    await rig.close();
  }
});
