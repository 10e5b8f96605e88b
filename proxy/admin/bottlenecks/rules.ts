/**
 * The bottleneck rules: each a pure function from one model's turn figures to a finding with its
 * cause and a concrete change, or undefined when its pattern is absent. The vLLM flags named are
 * vLLM's own (`--max-num-seqs`, `--gpu-memory-utilization`, `--kv-offloading-size`,
 * `--kv-cache-dtype fp8`, `--quantization`).
 */
import type { BottleneckFinding, FindingSeverity } from "../api_types.ts";
import type { TurnStats } from "./turn_stats.ts";

/** Turns a model needs before any rule speaks of it: fewer say little. */
export const MIN_TURNS = 5;

/** The thresholds the rules fire at (shares of turn time 0 to 1, counts, usage 0 to 1). */
export const THRESHOLDS = {
  /** Replica queueing: its share of turn time, and the p95 of requests waiting on the replica. */
  replicaQueueShare: 0.15,
  replicaWaitingP95: 1,
  /** Prefill-bound: prefill's share, below this prefix-cache hit rate. */
  prefillShare: 0.3,
  prefixHitRate: 0.3,
  /** KV pressure: the fullest cache seen, with preemptions. */
  kvUsage: 0.95,
  /** Decode-bound: decode's share; a batch this large is "high". */
  decodeShare: 0.5,
  highBatch: 64,
  /** Agent-bound: the agent's own pre and post time's share. */
  agentShare: 0.5,
  /** Gateway queue: admission's wait's share. */
  gatewayQueueShare: 0.15,
  /** The way to the replica: its share. */
  networkShare: 0.2,
  /** The gateway's own time: its share. */
  gatewayShare: 0.1,
  /** Errors: share of requests answered 5xx. */
  errorRate: 0.05,
} as const;

/** A bottleneck rule. */
export type BottleneckRule = (stats: TurnStats) => BottleneckFinding | undefined;

const pct = (share: number) => `${Math.round(share * 100)}%`;
const label = (stats: TurnStats) => stats.model ?? "every model";

function finding(
  rule: string,
  stats: TurnStats,
  severity: FindingSeverity,
  cause: string,
  recommendation: string,
  evidence: Record<string, number | undefined>,
): BottleneckFinding {
  const figures: Record<string, number> = { turns: stats.turns };
  for (const [name, value] of Object.entries(evidence)) {
    if (value !== undefined) figures[name] = Math.round(value * 1000) / 1000;
  }
  return { rule, severity, model: stats.model, cause, recommendation, evidence: figures };
}

/** Requests wait in the replicas' own queues: the fleet lacks capacity for the load. */
export function replicaQueueing(stats: TurnStats): BottleneckFinding | undefined {
  const share = stats.shares.replica_queue;
  const waiting = stats.waitingP95 ?? 0;
  if (share < THRESHOLDS.replicaQueueShare || waiting < THRESHOLDS.replicaWaitingP95) return;
  return finding(
    "replica_queueing",
    stats,
    share >= 0.4 ? "critical" : "warning",
    `Replica queueing on model ${label(stats)} (p95 waiting ${Math.round(waiting)}): ${
      pct(share)
    } of turn time is spent in the replicas' queues`,
    "Add replicas, or raise max_num_seqs (--max-num-seqs) if the KV cache has room",
    {
      replica_queue_share: share,
      waiting_p95: waiting,
      replica_queue_p95_ms: stats.p95Ms.replica_queue,
    },
  );
}

/** Whether the replicas' queues hold requests (then the queue estimate lags and prefill reads high). */
function replicasQueue(stats: TurnStats): boolean {
  return (stats.waitingP95 ?? 0) >= THRESHOLDS.replicaWaitingP95 &&
    stats.shares.replica_queue >= THRESHOLDS.replicaQueueShare;
}

/**
 * Prefill dominates while the replicas rarely find the prompt's prefix cached, and nothing waits
 * in their queues (queueing is its own finding, and the queue estimate, a scrape interval's mean,
 * lags a burst: prefill then reads high).
 */
export function prefillBound(stats: TurnStats): BottleneckFinding | undefined {
  const share = stats.shares.prefill;
  const hits = stats.replicaPrefixHitRate;
  if (share < THRESHOLDS.prefillShare || hits === undefined || hits >= THRESHOLDS.prefixHitRate) {
    return;
  }
  if (replicasQueue(stats)) return;
  const sessions = stats.sessionShare < 0.5;
  const advice = stats.strategy?.includes("prefix_aware")
    ? sessions
      ? "Send the session headers (X-Session-ID) so a conversation's turns reach the replica holding its history"
      : "Raise proxy.prefix_cache_tokens to the replicas' real cache size, or add a host KV tier (--kv-offloading-size) so evicted prefixes are loaded, not recomputed"
    : "Use the prefix_aware strategy (POST /api/routing or proxy.strategy), or session headers with session_affinity";
  return finding(
    "prefill_bound",
    stats,
    share >= 0.5 ? "critical" : "warning",
    `Prefill-bound on model ${label(stats)} with ${pct(hits)} prefix hits: prefill is ${
      pct(share)
    } of turn time`,
    advice,
    {
      prefill_share: share,
      prefix_hit_rate: hits,
      router_prefix_share: stats.routerPrefixShare,
      session_share: stats.sessionShare,
    },
  );
}

/** The KV cache is full and the replicas preempt requests to make room. */
export function kvPressure(stats: TurnStats): BottleneckFinding | undefined {
  const usage = stats.kvUsageMax;
  if (usage === undefined || usage < THRESHOLDS.kvUsage || stats.turnsWithPreemptions === 0) {
    return;
  }
  return finding(
    "kv_cache_pressure",
    stats,
    "critical",
    `KV cache above ${pct(THRESHOLDS.kvUsage)} with preemptions on model ${label(stats)} (peak ${
      pct(usage)
    }, ${stats.turnsWithPreemptions} turns routed while the replica preempted)`,
    "Raise gpu_memory_utilization (--gpu-memory-utilization), add a host KV tier (--kv-offloading-size), or use an fp8 KV cache (--kv-cache-dtype fp8)",
    { kv_usage_max: usage, turns_with_preemptions: stats.turnsWithPreemptions },
  );
}

/** Decoding dominates the turn. */
export function decodeBound(stats: TurnStats): BottleneckFinding | undefined {
  const share = stats.shares.decode;
  if (share < THRESHOLDS.decodeShare) return;
  const batch = stats.runningP50;
  const evidence = {
    decode_share: share,
    batch_p50: batch,
    decode_p95_ms: stats.p95Ms.decode,
    completion_tokens_mean: stats.completionTokensMean,
  };
  if (batch !== undefined && batch >= THRESHOLDS.highBatch) {
    return finding(
      "decode_bound",
      stats,
      "warning",
      `Decode-bound at batch ${Math.round(batch)} on model ${label(stats)}: decode is ${
        pct(share)
      } of turn time`,
      "Add replicas, or serve a smaller quantization (--quantization fp8 or awq) for faster steps",
      evidence,
    );
  }
  return finding(
    "decode_bound",
    stats,
    "info",
    `Decode is ${pct(share)} of turn time on model ${label(stats)} at a small batch (${
      batch === undefined ? "unknown" : Math.round(batch)
    }): long outputs, not load`,
    "Cap max_tokens where the agent allows, or serve a smaller quantization (--quantization fp8) for faster steps",
    evidence,
  );
}

/** The agent's own work (tools, thinking between calls) dominates the turn. */
export function agentBound(stats: TurnStats): BottleneckFinding | undefined {
  const share = stats.shares.agent_pre + stats.shares.agent_post;
  if (share < THRESHOLDS.agentShare) return;
  return finding(
    "agent_bound",
    stats,
    "info",
    `Agent-side tool time is ${pct(share)} of each turn on model ${
      label(stats)
    }: the GPUs are not the bottleneck`,
    "Speed up the agent's tools or run more agents in parallel; more replicas would not help",
    {
      agent_share: share,
      agent_pre_p95_ms: stats.p95Ms.agent_pre,
      agent_post_p95_ms: stats.p95Ms.agent_post,
    },
  );
}

/** Requests wait in the gateway's admission queue. */
export function gatewayQueueing(stats: TurnStats): BottleneckFinding | undefined {
  const share = stats.shares.gateway_queue;
  if (share < THRESHOLDS.gatewayQueueShare) return;
  return finding(
    "gateway_queueing",
    stats,
    share >= 0.4 ? "critical" : "warning",
    `Gateway queue is ${pct(share)} of turn time on model ${label(stats)} (p95 wait ${
      Math.round(stats.p95Ms.gateway_queue ?? 0)
    } ms)`,
    "Raise admission.max_in_flight_per_replica if the replicas are not queueing, else add replicas; give interactive turns a higher X-Priority",
    { gateway_queue_share: share, gateway_queue_p95_ms: stats.p95Ms.gateway_queue },
  );
}

/** The way to the replicas takes a large share. */
export function networkBound(stats: TurnStats): BottleneckFinding | undefined {
  const share = stats.shares.network;
  if (share < THRESHOLDS.networkShare) return;
  return finding(
    "network",
    stats,
    "warning",
    `The way to the replicas is ${pct(share)} of turn time on model ${label(stats)} (p95 ${
      Math.round(stats.p95Ms.network ?? 0)
    } ms to the answer's head)`,
    "Run the gateway next to the replicas (same host or rack), or check the replicas' HTTP front for overload",
    { network_share: share, network_p95_ms: stats.p95Ms.network },
  );
}

/** The gateway's own processing takes a large share. */
export function gatewayBound(stats: TurnStats): BottleneckFinding | undefined {
  const share = stats.shares.gateway;
  if (share < THRESHOLDS.gatewayShare) return;
  return finding(
    "gateway_overhead",
    stats,
    "warning",
    `The gateway's own time is ${pct(share)} of turn time on model ${label(stats)} (p95 ${
      Math.round(stats.p95Ms.gateway ?? 0)
    } ms)`,
    "Give the gateway more CPU or run more gateway processes on the same KV file",
    { gateway_share: share, gateway_p95_ms: stats.p95Ms.gateway },
  );
}

/** Many requests fail on the replicas. */
export function failing(stats: TurnStats): BottleneckFinding | undefined {
  if (stats.errorRate < THRESHOLDS.errorRate) return;
  return finding(
    "errors",
    stats,
    "critical",
    `${pct(stats.errorRate)} of requests to model ${label(stats)} failed with a 5xx`,
    "Check GET /health/detailed for failing replicas and their last errors; retired or crashing replicas need replacing",
    { error_rate: stats.errorRate, requests: stats.requests },
  );
}

/** Every rule, in the order their findings are listed when equally severe. */
export const RULES: readonly BottleneckRule[] = [
  failing,
  kvPressure,
  replicaQueueing,
  gatewayQueueing,
  prefillBound,
  decodeBound,
  agentBound,
  networkBound,
  gatewayBound,
];
