/**
 * The JSON shapes of the analysis routes the dashboards read: `GET /api/bottlenecks`,
 * `GET /api/sessions`, `GET /api/slo` and `GET`/`POST /api/routing`. Keys are snake_case as in
 * the rest of the admin API; times are ms, shares 0 to 1, instants ISO 8601 strings.
 */
import type { StrategySpec } from "../../actors/router/strategies/names.ts";

/** A part of a turn's wall time, in the order a turn goes through them. */
export type TurnComponent =
  | "agent_pre"
  | "gateway_queue"
  | "gateway"
  | "network"
  | "replica_queue"
  | "prefill"
  | "decode"
  | "agent_post";

/** Every {@linkcode TurnComponent}, in turn order. */
export const TURN_COMPONENTS: readonly TurnComponent[] = [
  "agent_pre",
  "gateway_queue",
  "gateway",
  "network",
  "replica_queue",
  "prefill",
  "decode",
  "agent_post",
];

/** Where one component's time goes over the turns analysed. */
export interface ComponentShare {
  component: TurnComponent;
  /** Its share of the turns' summed wall time, 0 to 1. */
  share: number;
  /** Its time summed over the turns, in ms. */
  total_ms: number;
  /** Per-turn p50 and p95 over the turns where it was measured, in ms; null when it never was. */
  p50_ms: number | null;
  p95_ms: number | null;
  /** Turns where it was measured. */
  turns: number;
}

/** How urgent a finding is. */
export type FindingSeverity = "info" | "warning" | "critical";

/** One bottleneck rule that fired: what it saw and what to change. */
export interface BottleneckFinding {
  /** The rule's stable id, e.g. `replica_queueing`. */
  rule: string;
  severity: FindingSeverity;
  /** The model it is about, null when it is about every turn analysed. */
  model: string | null;
  /** What the data shows, in one sentence with the figures. */
  cause: string;
  /** The concrete change to make. */
  recommendation: string;
  /** The figures the rule decided on, by name. */
  evidence: Record<string, number>;
}

/** `GET /api/bottlenecks`: where the turns' time went and what to change, ranked. */
export interface BottlenecksResponse {
  /** The window analysed, in seconds back from now. */
  window_s: number;
  /** The filters applied (null when not given). */
  filters: { session: string | null; task: string | null; model: string | null };
  /** Records analysed (finished requests in the window that match the filters). */
  turns: number;
  /** Their summed wall time (agent pre and post time included), in ms. */
  wall_ms: number;
  /** Every component, the largest share first. */
  components: ComponentShare[];
  /** Findings, the most severe and then the largest share first; empty when nothing stands out. */
  findings: BottleneckFinding[];
}

/** One session as `GET /api/sessions` lists it, from the request records. */
export interface SessionSummary {
  session_id: string;
  /** The task and client headers of its last turn, if any. */
  task_id: string | null;
  client_id: string | null;
  /** The model of its last turn. */
  model: string;
  /** Requests recorded with its session header. */
  turns: number;
  /** Its first and last turn's arrival. */
  first_turn_at: string;
  last_turn_at: string;
  /** Its last turn's whole time in the gateway, in ms. */
  last_turn_ms: number;
  prompt_tokens: number;
  completion_tokens: number;
  /** The replica its last turn went to, null when none answered. */
  backend: string | null;
  /** Turns that ended with a status of 400 or more. */
  errors: number;
}

/** `GET /api/sessions`: a page of sessions, the most recently active first. */
export interface SessionsResponse {
  object: "list";
  /** `local` (this process's records) or `cluster` (every process's records on the KV store). */
  scope: "local" | "cluster";
  /** Sessions with a turn within `active_within` (seconds), before paging. */
  total: number;
  data: SessionSummary[];
  has_more: boolean;
  /** Pass as `cursor` for the next page. */
  next_cursor: string | null;
}

/** An SLO objective: p95 time to first token, p95 inter-token latency, or error rate. */
export type SloObjective = "ttft_p95" | "itl_p95" | "error_rate";

/** One objective of one model over its window. */
export interface SloObjectiveStatus {
  objective: SloObjective;
  /** The target: ms for the latencies, a share 0 to 1 for the error rate. */
  target: number;
  /** The measured value over the window (ms or share), null without samples. */
  value: number | null;
  /**
   * Error-budget burn rate: the share of bad samples over the share allowed (5% for a p95
   * objective, the target for the error rate); above 1 the objective is violated. Null without samples.
   */
  burn: number | null;
  violated: boolean;
  /** Samples in the window. */
  samples: number;
  /** Times it went from met to violated since start. */
  violations_total: number;
}

/** One model's SLO. */
export interface SloModelStatus {
  model: string;
  window_s: number;
  /** The largest burn of its objectives, null without samples. */
  burn: number | null;
  objectives: SloObjectiveStatus[];
}

/** `GET /api/slo`: every model with an `slo:` entry. */
export interface SloResponse {
  models: SloModelStatus[];
}

/** A canary under way: a share of sessions routed by a candidate strategy. */
export interface RoutingCanary {
  strategy: StrategySpec;
  /** Share of sessions (by a hash of the session id) it routes, 0 to 1. */
  share: number;
  window_s: number;
  started_at: string;
  /** When it is judged: promoted, or rolled back if its burn is worse. */
  ends_at: string;
  /** SLO burn of the canary's and the incumbent's requests so far (null without samples). */
  canary_burn: number | null;
  incumbent_burn: number | null;
  /** Requests each side routed since the canary started. */
  canary_requests: number;
  incumbent_requests: number;
}

/** A change of a model's routing, as the history keeps it. */
export interface RoutingEvent {
  at: string;
  kind: "set" | "canary_started" | "promoted" | "rolled_back";
  /** The strategy before and after (for a rollback: the canary's and the one kept). */
  from: StrategySpec;
  to: StrategySpec;
  /** Why, with the figures (for a canary's end: both burns). */
  reason: string;
  canary_burn?: number | null;
  incumbent_burn?: number | null;
}

/** One model's routing. */
export interface RoutingModelState {
  model: string;
  strategy: StrategySpec;
  canary: RoutingCanary | null;
  /** The latest changes, newest first (at most 20). */
  history: RoutingEvent[];
}

/** `GET /api/routing`, and the answer of `POST /api/routing` (the models it changed). */
export interface RoutingResponse {
  models: RoutingModelState[];
}
