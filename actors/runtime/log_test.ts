import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { errorField, isLogLevel, Logger } from "./log.ts";

function collecting(
  options: { level?: "debug" | "info" | "warn" | "error"; maxPending?: number } = {},
) {
  const writes: string[] = [];
  const logger = new Logger({
    ...options,
    write: (text) => {
      writes.push(text);
    },
    now: () => Date.UTC(2026, 0, 2, 3, 4, 5),
  });
  const lines = () => writes.join("").split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
  return { logger, writes, lines };
}

Deno.test("a line is one JSON object with time, level and msg first, then the fields", async () => {
  const { logger, lines } = collecting();
  logger.info("request", { request_id: "r1", status: 200 });
  await logger.flush();
  assertEquals(lines(), [{
    time: "2026-01-02T03:04:05.000Z",
    level: "info",
    msg: "request",
    request_id: "r1",
    status: 200,
  }]);
});

Deno.test("fields cannot replace time, level or msg", async () => {
  const { logger, lines } = collecting();
  logger.warn("real", { msg: "forged", level: "debug", time: "then" });
  await logger.flush();
  assertEquals(lines()[0], { time: "2026-01-02T03:04:05.000Z", level: "warn", msg: "real" });
});

Deno.test("lines below the level are dropped, and configure() changes the level", async () => {
  const { logger, lines } = collecting({ level: "warn" });
  logger.debug("d");
  logger.info("i");
  logger.warn("w");
  logger.error("e");
  assert(!logger.enabled("info"));
  logger.configure({ level: "debug" });
  logger.debug("d2");
  await logger.flush();
  assertEquals(lines().map((l) => l.msg), ["w", "e", "d2"]);
});

Deno.test("lines logged in one task are written in one batch, after it", async () => {
  const { logger, writes } = collecting();
  logger.info("a");
  logger.info("b");
  assertEquals(writes.length, 0, "written before the caller's task ended");
  await logger.flush();
  assertEquals(writes.length, 1);
  assertEquals(writes[0]!.split("\n").length, 3);
});

Deno.test("past maxPending lines waiting for a slow writer, lines are dropped and counted", async () => {
  const release = Promise.withResolvers<void>();
  const writes: string[] = [];
  const logger = new Logger({
    maxPending: 2,
    write: async (text) => {
      writes.push(text);
      await release.promise;
    },
  });
  logger.info("1");
  await Promise.resolve();
  await Promise.resolve();
  // "1" is being written; two more fit in the buffer, the third does not.
  logger.info("2");
  logger.info("3");
  logger.info("4");
  assertEquals(logger.dropped, 1);
  release.resolve();
  await logger.flush();
  const msgs = writes.join("").split("\n").filter(Boolean).map((l) => JSON.parse(l).msg);
  assertEquals(msgs, ["1", "2", "3"]);
});

Deno.test("a failing writer does not throw into the caller, and later lines still go out", async () => {
  let fail = true;
  const seen: string[] = [];
  const logger = new Logger({
    write: (text) => {
      if (fail) throw new Error("EPIPE");
      seen.push(text);
    },
  });
  logger.error("lost");
  await logger.flush();
  fail = false;
  logger.error("kept");
  await logger.flush();
  assertEquals(seen.length, 1);
  assert(seen[0]!.includes('"kept"'));
});

Deno.test("a field that cannot be serialised still leaves a line", async () => {
  const { logger, lines } = collecting();
  const cyclic: Record<string, unknown> = {};
  cyclic["self"] = cyclic;
  logger.info("odd", { cyclic });
  await logger.flush();
  assertEquals(lines()[0].fields, "unserializable");
});

Deno.test("errorField() gives the message, with the name of a special error", () => {
  assertEquals(errorField(new Error("boom")), "boom");
  assertEquals(errorField(new TypeError("bad")), "TypeError: bad");
  assertEquals(errorField("text"), "text");
  assert(isLogLevel("warn"));
  assert(!isLogLevel("verbose"));
});
