/** OpenAI's rate-limit response headers: limit, remaining and reset, for requests and for tokens. */

/** A metric limited per minute. */
export type RateMetric = "requests" | "tokens";

/** Where a client stands on one metric, as its headers say. */
export interface MetricStanding {
  /** The limit per minute. */
  limit: number;
  /** What is left of it now. */
  remaining: number;
  /** Ms until nothing counts any more, if nothing else is sent. */
  resetMs: number;
}

/**
 * A duration as OpenAI writes `x-ratelimit-reset-*` (Go's duration format, to the ms): `0s`,
 * `250ms`, `1s`, `2.5s`, `6m0s`, `1h2m3s`.
 */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.ceil(ms));
  if (total === 0) return "0s";
  if (total < 1000) return `${total}ms`;
  const hours = Math.floor(total / 3_600_000);
  const minutes = Math.floor((total % 3_600_000) / 60_000);
  const millis = total % 60_000;
  const seconds = `${Math.floor(millis / 1000)}${
    millis % 1000 === 0 ? "" : `.${String(millis % 1000).padStart(3, "0").replace(/0+$/, "")}`
  }s`;
  if (hours > 0) return `${hours}h${minutes}m${seconds}`;
  if (minutes > 0) return `${minutes}m${seconds}`;
  return seconds;
}

/** Appends the three `x-ratelimit-*-<metric>` headers of `standing` to `headers`. */
export function pushRateLimitHeaders(
  headers: [string, string][],
  metric: RateMetric,
  standing: MetricStanding,
): void {
  headers.push(
    [`x-ratelimit-limit-${metric}`, String(standing.limit)],
    [`x-ratelimit-remaining-${metric}`, String(Math.max(0, Math.floor(standing.remaining)))],
    [`x-ratelimit-reset-${metric}`, formatDuration(standing.resetMs)],
  );
}

/** The `Retry-After` value for a wait of `ms`: whole seconds, at least 1. */
export function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}
