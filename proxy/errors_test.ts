import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { errorBody, errorEvent, errorResponse } from "./errors.ts";

Deno.test("errorResponse has OpenAI's shape, the status and the extra headers", async () => {
  const res = errorResponse(503, "No backend", {
    code: "no_healthy_backend",
    headers: { "retry-after": "5" },
  });
  assertEquals(res.status, 503);
  assertEquals(res.headers.get("retry-after"), "5");
  assertEquals(res.headers.get("content-type"), "application/json");
  assertEquals(await res.json(), {
    error: {
      message: "No backend",
      type: "service_unavailable",
      param: null,
      code: "no_healthy_backend",
    },
  });
});

Deno.test("errorBody picks OpenAI's type per status", () => {
  assertEquals(errorBody(400, "x").error.type, "invalid_request_error");
  assertEquals(errorBody(404, "x", { param: "model" }).error.param, "model");
  assertEquals(errorBody(429, "x").error.type, "rate_limit_error");
  assertEquals(errorBody(504, "x").error.type, "timeout");
});

Deno.test("errorEvent is one SSE data event with an error body", () => {
  const event = errorEvent("Backend failed", { code: "upstream_error" });
  assertEquals(event.startsWith("data: ") && event.endsWith("\n\n"), true);
  assertEquals(JSON.parse(event.slice(6)), {
    error: { message: "Backend failed", type: "api_error", param: null, code: "upstream_error" },
  });
});
