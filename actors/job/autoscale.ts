/**
 * Autoscaling decisions as a pure function: from the router's view of a model's replicas (requests
 * waiting, KV cache usage, in flight, sessions cached) to a desired replica count within
 * `autoscale.min`/`max`, with hysteresis (grow above the target, shrink only well below it, and
 * only when one fewer replica would still be under it), a cooldown after each change, and the
 * least useful replica (fewest cached sessions) named for a scale-down. Every decision says why.
 */

/** `models[].autoscale`, in the machine's units. */
export interface AutoscalePolicy {
  min: number;
  max: number;
  /** Requests waiting per replica (vLLM's queue plus the gateway's) above which it grows. */
  targetWaiting: number;
  /** Mean KV cache usage (0 to 1) above which it grows. */
  targetKvUsage: number;
  /** No change within this long of the last one, in ms. */
  cooldownMs: number;
  /**
   * A scale-down needs the load below `lowWater` times the targets, and the load spread over one
   * fewer replica below the targets. @default 0.5
   */
  lowWater?: number;
}

/** What the router shows of one healthy replica. */
export interface ReplicaLoad {
  replica: number;
  /** Requests waiting in the replica's queue (scraped), undefined before the first scrape. */
  waiting: number | undefined;
  /** KV cache usage 0 to 1 (scraped), undefined before the first scrape. */
  kvUsage: number | undefined;
  /** Requests this gateway has in flight on it. */
  inFlight: number;
  /** Sessions whose prefix it holds (routed there recently): what a scale-down would lose. */
  sessions: number;
}

/** The model as the decision sees it. */
export interface ModelView {
  /** The replicas asked for now. */
  desired: number;
  /** The healthy replicas and their load. */
  replicas: readonly ReplicaLoad[];
  /** Requests waiting in the gateway's admission queue for this model. */
  queued: number;
  /** When the desired count last changed, ms since the epoch. */
  lastChangeMs: number | undefined;
}

/** One decision. */
export interface ScaleDecision {
  /** The replica count to ask for (equal to `view.desired` when nothing changes). */
  desired: number;
  /** The replica to drain first on a scale-down. */
  drain?: number;
  /** Why, for the log line. */
  reason: string;
}

function mean(values: readonly number[]): number {
  return values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length;
}

/** The replica a scale-down drains: fewest cached sessions, then fewest in flight, then the highest index. */
export function leastUseful(replicas: readonly ReplicaLoad[]): ReplicaLoad | undefined {
  return [...replicas].sort((a, b) =>
    a.sessions - b.sessions || a.inFlight - b.inFlight || b.replica - a.replica
  )[0];
}

/** Decides the desired replica count of one model at `nowMs`. */
export function decideScale(
  view: ModelView,
  policy: AutoscalePolicy,
  nowMs: number,
): ScaleDecision {
  const stay = (reason: string): ScaleDecision => ({ desired: view.desired, reason });
  if (view.desired < policy.min) {
    return { desired: policy.min, reason: `${view.desired} replicas is below min ${policy.min}` };
  }
  if (view.desired > policy.max) {
    return { desired: policy.max, reason: `${view.desired} replicas is above max ${policy.max}` };
  }
  if (view.lastChangeMs !== undefined && nowMs - view.lastChangeMs < policy.cooldownMs) {
    const left = Math.ceil((policy.cooldownMs - (nowMs - view.lastChangeMs)) / 1000);
    return stay(`cooldown: ${left} s left since the last change`);
  }
  const reporting = view.replicas.filter((r) => r.waiting !== undefined);
  if (reporting.length === 0) return stay("no healthy replica has reported its load yet");
  const n = reporting.length;
  const waitingTotal = reporting.reduce((sum, r) => sum + (r.waiting ?? 0), 0) + view.queued;
  const waiting = waitingTotal / n;
  const kv = mean(reporting.map((r) => r.kvUsage ?? 0));
  const figures = `${waiting.toFixed(1)} waiting per replica (target ${policy.targetWaiting}), ` +
    `KV usage ${(kv * 100).toFixed(0)}% (target ${(policy.targetKvUsage * 100).toFixed(0)}%)`;
  if (waiting > policy.targetWaiting || kv > policy.targetKvUsage) {
    if (view.desired >= policy.max) return stay(`${figures}, but already at max ${policy.max}`);
    return { desired: view.desired + 1, reason: `scale up: ${figures}` };
  }
  const low = policy.lowWater ?? 0.5;
  const quiet = waiting <= policy.targetWaiting * low && kv <= policy.targetKvUsage * low;
  // Spread over one replica fewer, the load must stay under the targets, or it would flap.
  const fewer = n > 1 ? n / (n - 1) : Number.POSITIVE_INFINITY;
  const fitsFewer = waitingTotal / Math.max(1, n - 1) <= policy.targetWaiting &&
    kv * fewer <= policy.targetKvUsage;
  if (quiet && fitsFewer && view.desired > policy.min) {
    const victim = leastUseful(view.replicas);
    return {
      desired: view.desired - 1,
      ...(victim ? { drain: victim.replica } : {}),
      reason: `scale down: ${figures}${
        victim ? `; draining replica ${victim.replica} (${victim.sessions} cached sessions)` : ""
      }`,
    };
  }
  return stay(`steady: ${figures}`);
}
