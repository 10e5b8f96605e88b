/** The access log: one info line per finished request, from its record, and the prompt lines `logging.log_prompts` allows. */
import type { LogFields, Logger } from "../actors/runtime/mod.ts";
import type { RecordStore, RequestRecord } from "./records.ts";

/** The fields of a request's access log line: ids, where it went, its status and its durations. No credential is in a record, and no prompt. */
export function accessLogFields(record: RequestRecord): LogFields {
  return {
    request_id: record.requestId,
    session_id: record.sessionId ?? null,
    task_id: record.taskId ?? null,
    client_id: record.clientId ?? null,
    model: record.model || null,
    backend: record.backendId ?? null,
    route: record.endpoint,
    stream: record.stream,
    status: record.status,
    attempts: record.attempts,
    total_ms: record.totalMs,
    gateway_ms: record.gatewayMs,
    queue_ms: record.queueMs ?? null,
    upstream_ttft_ms: record.upstreamTtftMs ?? null,
    upstream_ms: record.upstreamMs ?? null,
    prompt_tokens: record.promptTokens ?? null,
    completion_tokens: record.completionTokens ?? null,
    ...(record.errorCode === undefined ? {} : { code: record.errorCode }),
    ...(record.error === undefined ? {} : { error: record.error }),
  };
}

/** Writes an access log line to `logger` for every record `records` gets; returns the unsubscribe function. */
export function followAccessLog(
  records: Pick<RecordStore, "subscribe">,
  logger: Logger,
): () => void {
  return records.subscribe((record) => {
    if (logger.enabled("info")) logger.info("request", accessLogFields(record));
  });
}

/** The prompt of an OpenAI body: its `messages`, `prompt` or `input`, whichever it has. */
function promptOf(json: unknown): unknown {
  if (json === null || typeof json !== "object") return undefined;
  const body = json as Record<string, unknown>;
  return body["messages"] ?? body["prompt"] ?? body["input"];
}

/**
 * The hook that logs a request's prompt at info once it finished (`logging.log_prompts: true`):
 * a line `prompt` with the request id beside its access log line.
 */
export function promptLogger(logger: Logger): (record: RequestRecord, json: unknown) => void {
  return (record, json) => {
    if (!logger.enabled("info")) return;
    logger.info("prompt", {
      request_id: record.requestId,
      session_id: record.sessionId ?? null,
      model: record.model || null,
      prompt: promptOf(json) ?? null,
    });
  };
}
