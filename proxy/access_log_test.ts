import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { Logger } from "../actors/runtime/mod.ts";
import { accessLogFields, followAccessLog, promptLogger } from "./access_log.ts";
import { RecordStore, startRecord } from "./records.ts";
import { HeadersSchema } from "../config/mod.ts";

function captured() {
  const writes: string[] = [];
  const logger = new Logger({ write: (t) => void writes.push(t) });
  const lines = () =>
    writes.join("").split("\n").filter(Boolean).map((l) =>
      JSON.parse(l) as Record<string, unknown>
    );
  return { logger, lines };
}

function aRecord() {
  const request = new Request("http://gw/v1/chat/completions", {
    headers: { "x-session-id": "s-1", authorization: "Bearer tp-secret-token" },
  });
  const record = startRecord(request, {
    requestId: "r-1",
    endpoint: "/v1/chat/completions",
    startedAtMs: 0,
    names: HeadersSchema.parse({}),
  });
  record.model = "m";
  record.status = 200;
  record.backendId = "b1";
  record.totalMs = 12;
  return record;
}

Deno.test("followAccessLog() writes one info line per record with its ids, route, status and durations", async () => {
  const { logger, lines } = captured();
  const records = new RecordStore();
  const stop = followAccessLog(records, logger);
  records.add(aRecord());
  stop();
  records.add(aRecord());
  await logger.flush();
  const got = lines();
  assertEquals(got.length, 1);
  const line = got[0]!;
  assertEquals(line["msg"], "request");
  assertEquals(line["level"], "info");
  assertEquals(line["request_id"], "r-1");
  assertEquals(line["session_id"], "s-1");
  assertEquals(line["backend"], "b1");
  assertEquals(line["status"], 200);
  assertEquals(line["total_ms"], 12);
  assert(!JSON.stringify(got).includes("tp-secret-token"));
});

Deno.test("followAccessLog() writes nothing at level warn", async () => {
  const { logger, lines } = captured();
  logger.configure({ level: "warn" });
  const records = new RecordStore();
  followAccessLog(records, logger);
  records.add(aRecord());
  await logger.flush();
  assertEquals(lines(), []);
});

Deno.test("accessLogFields() carries the refusal code and reason when there is one", () => {
  const record = aRecord();
  record.errorCode = "queue_full";
  record.error = "admission queue full";
  const fields = accessLogFields(record);
  assertEquals(fields["code"], "queue_full");
  assertEquals(fields["error"], "admission queue full");
});

Deno.test("promptLogger() logs the messages of a request beside its id", async () => {
  const { logger, lines } = captured();
  const messages = [{ role: "user", content: "the prompt text" }];
  promptLogger(logger)(aRecord(), { model: "m", messages });
  promptLogger(logger)(aRecord(), { model: "m", prompt: "a completion prompt" });
  await logger.flush();
  const got = lines();
  assertEquals(got[0]!["msg"], "prompt");
  assertEquals(got[0]!["prompt"], messages);
  assertEquals(got[1]!["prompt"], "a completion prompt");
});
