/** Test fixture of the record tests: a finished request record with fields of its own. */
import type { RequestRecord } from "./records.ts";

/** A record of a 200 answered by `b1`, started at `i` ms, with `overrides`. */
export function record(i: number, overrides: Partial<RequestRecord> = {}): RequestRecord {
  return {
    requestId: `r${i}`,
    model: "m",
    endpoint: "/v1/chat/completions",
    stream: false,
    status: 200,
    backendId: "b1",
    attempts: 1,
    sessionId: undefined,
    taskId: undefined,
    clientId: undefined,
    clientPreMs: undefined,
    clientPostMs: undefined,
    startedAtMs: i,
    gatewayMs: i,
    upstreamTtftMs: 1,
    upstreamMs: 5,
    totalMs: 10 + i,
    promptTokens: 2,
    completionTokens: 3,
    usageSource: "reported",
    error: undefined,
    ...overrides,
  };
}
