/** Rate limits per client and per model: requests and tokens per minute, requests in flight, shared through KV. */
export { ANONYMOUS_CLIENT, RateLimits, type RateLimitsOptions, usedTokens } from "./rate_limits.ts";
export {
  type Admission,
  type Demand,
  limited,
  RateLimiter,
  type RateLimiterOptions,
  type RefusalKind,
  Ticket,
} from "./limiter.ts";
export { Scope, type ScopeKind } from "./scope.ts";
export { CounterSync, type CounterSyncOptions } from "./kv_sync.ts";
export { type EstimateOptions, estimateTokens } from "./estimate.ts";
export {
  formatDuration,
  type MetricStanding,
  pushRateLimitHeaders,
  type RateMetric,
  retryAfterSeconds,
} from "./headers.ts";
export {
  BUCKET_MS,
  type BucketDelta,
  bucketOf,
  BUCKETS,
  SlidingWindow,
  WINDOW_MS,
} from "./window.ts";
