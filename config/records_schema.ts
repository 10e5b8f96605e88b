/** `proxy.records:` how long the per-request records every gateway process shares in KV are kept, and how they are written. */
import { z } from "zod";

/** `proxy.records:`. */
export const RecordsSchema = z.strictObject({
  /** Records kept in KV across every gateway process; the oldest beyond it are pruned. */
  retention: z.number().int().positive().default(10_000),
  /** Seconds a record is kept in KV at most. */
  ttl: z.number().positive().default(24 * 3600),
  /** Seconds a finished record may wait before its batch is written to KV. */
  flush_interval: z.number().positive().default(0.2),
  /** Records that make a batch be written at once, before `flush_interval` is up. */
  flush_records: z.number().int().positive().max(500).default(500),
});

/** The `proxy.records:` settings. */
export type RecordsConfig = z.infer<typeof RecordsSchema>;
