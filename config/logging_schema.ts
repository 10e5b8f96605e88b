/** `logging:` the level of the JSON log lines on stderr, the access log, and whether prompts may be logged. */
import { z } from "zod";

/** `logging:`. */
export const LoggingSchema = z.strictObject({
  /** Lines below it are dropped; `TURNPIKE_LOG_LEVEL` overrides it. */
  level: z.enum(["debug", "info", "warn", "error"]).default("info"),
  /** One info line per finished request (request id, session, model, backend, status, durations). */
  access_log: z.boolean().default(true),
  /** Whether the access log line carries the request's messages or prompt; off, no prompt text is ever logged. */
  log_prompts: z.boolean().default(false),
});

/** The `logging:` settings. */
export type LoggingConfig = z.infer<typeof LoggingSchema>;
