/** `admission:` in config: in-flight caps per replica, the gateway's queue per model, priority classes and early shedding. */
import { z } from "zod";

const positiveInt = z.number().int().positive();
const weight = z.number().positive();
const vllmPriority = z.number().int();

/** The weight of each priority class in the queue's weighted fair sharing. */
export const ClassWeightsSchema = z.strictObject({
  high: weight.default(8),
  medium: weight.default(4),
  low: weight.default(1),
});

/** The integer `priority` vLLM gets for each class (lower is served earlier). */
export const VllmPrioritiesSchema = z.strictObject({
  high: vllmPriority.default(0),
  medium: vllmPriority.default(1),
  low: vllmPriority.default(2),
});

/** `admission:`. */
export const AdmissionSchema = z.strictObject({
  /** Whether requests over the replicas' caps wait in the gateway's queue (off: sent on at once, as before). */
  enabled: z.boolean().default(true),
  /**
   * Requests in flight per replica (the ceiling of the adaptive limit). When absent, vLLM's
   * default `max_num_seqs` (256); vLLM does not export its `max_num_seqs`, so set this to the
   * replicas' `--max-num-seqs` if it differs.
   */
  max_in_flight_per_replica: positiveInt.optional(),
  /**
   * Whether each replica's in-flight limit adapts to its latency: it goes down while the recent
   * time to first token is past `latency_tolerance` times the replica's no-load one (requests
   * queue inside vLLM, where the gateway can neither reorder nor shed them) and up while it is
   * within, between `min_in_flight_per_replica` and `max_in_flight_per_replica`. Without
   * `max_queue_wait` it also bounds the wait in the queue (see `queue_wait_factor`).
   */
  adaptive: z.boolean().default(true),
  /** The least in flight per replica the adaptive limit goes down to. */
  min_in_flight_per_replica: positiveInt.default(2),
  /** Recent over no-load time to first token past which the adaptive limit goes down. */
  latency_tolerance: z.number().gt(1).max(100).default(2.5),
  /**
   * Milliseconds the recent time to first token must also exceed the no-load one by before it
   * counts as queueing: a gateway or client slowed by its own CPU adds a few ms to a very fast
   * replica's latency, many times its no-load one, without any request waiting in vLLM.
   */
  min_queueing_ms: z.number().min(0).default(20),
  /**
   * With `adaptive` and no `max_queue_wait`: a request expected to wait in the queue longer than
   * this many times the replicas' no-load time to first token (and longer than
   * `min_queueing_ms`) is answered 503 at once (a cold gateway, with no latency seen yet, sheds
   * none for it).
   */
  queue_wait_factor: z.number().positive().default(2),
  /**
   * Share of a replica's KV cache (scraped from `vllm:cache_config_info`: num_gpu_blocks x
   * block_size) the gateway fills with the estimated tokens of the requests it has in flight there.
   */
  kv_fraction: z.number().gt(0).max(2).default(1),
  /** Output tokens counted for a request without `max_tokens`, for the KV estimate. */
  output_tokens_estimate: positiveInt.default(256),
  /** Requests waiting per model; one more is answered 429 with Retry-After. */
  max_queue: positiveInt.default(1024),
  /** Weighted fair sharing between the classes of waiting requests. */
  weights: ClassWeightsSchema.default(ClassWeightsSchema.parse({})),
  /** The class of a request that names none. */
  default_priority: z.enum(["high", "medium", "low"]).default("medium"),
  /**
   * Whether a request whose expected wait (the queue ahead of it over the model's completion
   * rate) passes what is left of `proxy.request_timeout` is answered 503 with Retry-After at once,
   * rather than waiting to time out.
   */
  shed_early: z.boolean().default(true),
  /**
   * Seconds a request may be expected to wait in the queue; one expected to wait longer is
   * answered 503 at once. It bounds the time to first token of admitted requests under overload;
   * when absent, `queue_wait_factor` bounds the wait (with `adaptive`), else only
   * `proxy.request_timeout`.
   */
  max_queue_wait: z.number().positive().optional(),
  /** Seconds over which a session's attained service (the GPU time it got) halves. */
  attained_half_life: z.number().positive().default(60),
  /** The `priority` field sent to replicas of a model with `scheduling_policy: priority`. */
  vllm_priority: VllmPrioritiesSchema.default(VllmPrioritiesSchema.parse({})),
});

/** The `admission:` settings. */
export type AdmissionConfig = z.infer<typeof AdmissionSchema>;
