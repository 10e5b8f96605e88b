/** A replica's state as the BackendActor keeps it, with pure transitions for probes, scrapes and requests. */
import {
  type Circuit,
  circuitFailed,
  type CircuitOptions,
  type CircuitPhase,
  circuitSucceeded,
  circuitTick,
  closedCircuit,
} from "./circuit.ts";
import {
  DEFAULT_EWMA_OPTIONS,
  emptyEwma,
  type Ewma,
  ewmaAdd,
  type EwmaOptions,
  ewmaRead,
} from "./ewma.ts";
import type { VllmMetrics } from "./vllm_metrics.ts";
import { scrapeDeltas } from "./scrape_deltas.ts";

/** Where a backend came from. */
export type BackendSource = "static" | "launched" | "registered";

/** One replica's state. */
export interface BackendState {
  /** Stable id, unique within its model. */
  readonly id: string;
  /** The model it serves. */
  readonly model: string;
  /** Base URL without a trailing slash. */
  readonly url: string;
  /** Where it came from. */
  readonly source: BackendSource;
  /** The last health probe's verdict; undefined before the first probe. */
  readonly healthy: boolean | undefined;
  /** The circuit breaker. */
  readonly circuit: Circuit;
  /** Requests the gateway has in flight on it. */
  readonly inFlight: number;
  /** EWMA of time to first token. */
  readonly ttft: Ewma;
  /** EWMA of whole-request latency. */
  readonly latency: Ewma;
  /** The last scrape of `/metrics`. */
  readonly metrics: VllmMetrics | undefined;
  /** The last failure's description, for operators. */
  readonly lastError: string | undefined;
  /** Requests finished, and those that failed. */
  readonly completed: number;
  /** Requests that failed (connection error, 5xx, broken stream). */
  readonly failed: number;
}

/** What the router is told of a backend whenever it changes. */
export interface BackendReport {
  id: string;
  model: string;
  url: string;
  source: BackendSource;
  /** Whether the router may send it ordinary traffic (healthy and circuit closed). */
  eligible: boolean;
  healthy: boolean | undefined;
  circuit: CircuitPhase;
  ewmaTtftMs: number | undefined;
  ewmaLatencyMs: number | undefined;
  metrics: VllmMetrics | undefined;
  inFlight: number;
  completed: number;
  failed: number;
  lastError: string | undefined;
}

/** The outcome of one request, as the hot path reports it. */
export interface RequestOutcome {
  /** False for a connection error, a 5xx, a timeout or a broken stream. */
  ok: boolean;
  /** Time to the first byte of a streamed body, in ms; left out for a non-streamed answer, whose time is a latency. */
  ttftMs?: number;
  /** Whole request time, in ms. */
  totalMs?: number;
  /** What went wrong, when it did. */
  error?: string;
  /** Whether the request was cut short by the client or the gateway (neither a success nor the replica's fault). */
  aborted?: boolean;
  /**
   * Whether it failed by a timeout (the request timeout, or no first byte in time): the replica's
   * fault only when it was not busy (see {@linkcode replicaBusy}).
   */
  timedOut?: boolean;
}

/** Settings of the state transitions. */
export interface BackendStateOptions extends CircuitOptions {
  /** EWMA settings. */
  ewma?: EwmaOptions;
  /**
   * How recent a scrape must be for its load to count as the replica being busy, in ms.
   * @default 10_000
   */
  busyWindowMs?: number;
}

/** KV usage from which a replica counts as busy, whatever its request counts. */
const BUSY_KV_USAGE = 0.9;

/**
 * Whether the replica's last scrape, taken within `busyWindowMs`, shows it busy: requests running
 * or waiting, or its KV cache nearly full. A timeout on a busy replica is load, not a fault:
 * opening its circuit would only push its load onto the others.
 */
export function replicaBusy(
  state: BackendState,
  nowMs: number,
  options: BackendStateOptions,
): boolean {
  const metrics = state.metrics;
  if (metrics === undefined || nowMs - metrics.scrapedAtMs > (options.busyWindowMs ?? 10_000)) {
    return false;
  }
  return metrics.running > 0 || metrics.waiting > 0 || metrics.kvUsage >= BUSY_KV_USAGE;
}

/** A new backend: health unknown, circuit closed. */
export function newBackendState(
  init: { id: string; model: string; url: string; source: BackendSource },
): BackendState {
  return {
    ...init,
    url: init.url.replace(/\/+$/, ""),
    healthy: undefined,
    circuit: closedCircuit(),
    inFlight: 0,
    ttft: emptyEwma(),
    latency: emptyEwma(),
    metrics: undefined,
    lastError: undefined,
    completed: 0,
    failed: 0,
  };
}

/** Applies a health probe's result. A failed probe also counts against the circuit. */
export function backendProbed(
  state: BackendState,
  ok: boolean,
  nowMs: number,
  options: BackendStateOptions,
  error?: string,
): BackendState {
  if (ok) return { ...state, healthy: true, circuit: circuitSucceeded(state.circuit) };
  return {
    ...state,
    healthy: false,
    circuit: circuitFailed(state.circuit, nowMs, options),
    lastError: error ?? "health check failed",
  };
}

/**
 * Applies a health probe that got no answer in time: a busy replica (see {@linkcode replicaBusy})
 * is slow, not down, and keeps its health and circuit; any other counts as a failed probe.
 */
export function backendProbeTimedOut(
  state: BackendState,
  nowMs: number,
  options: BackendStateOptions,
  error: string,
): BackendState {
  if (replicaBusy(state, nowMs, options)) return { ...state, lastError: `${error} (busy)` };
  return backendProbed(state, false, nowMs, options, error);
}

/** Moves an open circuit to half-open once its wait is over. */
export function backendTick(
  state: BackendState,
  nowMs: number,
  options: BackendStateOptions,
): BackendState {
  const circuit = circuitTick(state.circuit, nowMs, options);
  return circuit === state.circuit ? state : { ...state, circuit };
}

/** Stores a `/metrics` scrape, with what changed since the one before (see {@linkcode scrapeDeltas}). */
export function backendScraped(state: BackendState, metrics: VllmMetrics): BackendState {
  return { ...state, metrics: scrapeDeltas(state.metrics, metrics) };
}

/** Counts a request that started. */
export function backendAcquired(state: BackendState): BackendState {
  return { ...state, inFlight: state.inFlight + 1 };
}

/** Counts a request that ended and feeds its timings and verdict into the EWMAs and the circuit. */
export function backendReleased(
  state: BackendState,
  outcome: RequestOutcome,
  nowMs: number,
  options: BackendStateOptions,
): BackendState {
  const ewma = options.ewma ?? DEFAULT_EWMA_OPTIONS;
  const inFlight = Math.max(0, state.inFlight - 1);
  if (outcome.aborted) return { ...state, inFlight };
  if (outcome.timedOut && replicaBusy(state, nowMs, options)) {
    return { ...state, inFlight, lastError: `${outcome.error ?? "request timed out"} (busy)` };
  }
  if (!outcome.ok) {
    return {
      ...state,
      inFlight,
      failed: state.failed + 1,
      circuit: circuitFailed(state.circuit, nowMs, options),
      lastError: outcome.error ?? "request failed",
    };
  }
  return {
    ...state,
    inFlight,
    completed: state.completed + 1,
    circuit: circuitSucceeded(state.circuit),
    ttft: outcome.ttftMs === undefined
      ? state.ttft
      : ewmaAdd(state.ttft, outcome.ttftMs, nowMs, ewma),
    latency: outcome.totalMs === undefined
      ? state.latency
      : ewmaAdd(state.latency, outcome.totalMs, nowMs, ewma),
  };
}

/** The report the router gets. */
export function backendReport(
  state: BackendState,
  nowMs: number,
  options: BackendStateOptions,
): BackendReport {
  const ewma = options.ewma ?? DEFAULT_EWMA_OPTIONS;
  return {
    id: state.id,
    model: state.model,
    url: state.url,
    source: state.source,
    eligible: state.healthy === true && state.circuit.phase === "closed",
    healthy: state.healthy,
    circuit: state.circuit.phase,
    ewmaTtftMs: ewmaRead(state.ttft, nowMs, ewma),
    ewmaLatencyMs: ewmaRead(state.latency, nowMs, ewma),
    metrics: state.metrics,
    inFlight: state.inFlight,
    completed: state.completed,
    failed: state.failed,
    lastError: state.lastError,
  };
}
