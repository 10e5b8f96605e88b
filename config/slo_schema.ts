/** `slo:` service-level objectives per model (p95 time to first token, p95 inter-token latency, error rate) and how routing canaries are judged against them. */
import { z } from "zod";

/** The objectives of one model; at least one. */
export const ModelSloSchema = z.strictObject({
  /** 95% of streamed requests get their first token within this many ms. */
  ttft_p95_ms: z.number().positive().optional(),
  /** 95% of streamed requests average at most this many ms per output token after the first. */
  itl_p95_ms: z.number().positive().optional(),
  /** At most this share of requests fail with a 5xx (0 < rate < 1). */
  error_rate: z.number().gt(0).lt(1).optional(),
  /** Seconds of requests the objectives are measured over; `slo.window` when absent. */
  window: z.number().positive().max(86_400).optional(),
}).refine(
  (s) => s.ttft_p95_ms !== undefined || s.itl_p95_ms !== undefined || s.error_rate !== undefined,
  "expected at least one of ttft_p95_ms, itl_p95_ms, error_rate",
);

/** `slo:`. */
export const SloSchema = z.strictObject({
  /** Default window of every model's objectives, in seconds. */
  window: z.number().positive().max(86_400).default(300),
  /** Seconds between evaluations of the burn (and of a running canary). */
  evaluate_interval: z.number().positive().max(3600).default(5),
  /**
   * A canary is rolled back when its burn exceeds the incumbent's by more than this share of the
   * incumbent's (at least of 1): `canary - incumbent > tolerance * max(1, incumbent)`.
   */
  canary_tolerance: z.number().min(0).max(10).default(0.1),
  /** Requests each side of a canary needs by the window's end; fewer, and it is rolled back. */
  canary_min_requests: z.number().int().positive().default(10),
  /** Objectives by model name (as `models[].name` or a registered replica's model). */
  models: z.record(z.string().min(1), ModelSloSchema).default({}),
});

/** The `slo:` settings. */
export type SloConfig = z.infer<typeof SloSchema>;

/** One model's objectives. */
export type ModelSloConfig = z.infer<typeof ModelSloSchema>;
