/** A replica's circuit breaker as pure functions: closed, open after consecutive failures, half-open probe. */

/** Where a circuit stands. */
export type CircuitPhase = "closed" | "open" | "half_open";

/** A circuit breaker's state. */
export interface Circuit {
  /** Closed passes traffic, open refuses it, half-open lets one probe through. */
  readonly phase: CircuitPhase;
  /** Failures since the last success. */
  readonly consecutiveFailures: number;
  /** When it last opened, in ms since the epoch (0 when it never did). */
  readonly openedAtMs: number;
  /** Whether the half-open probe is out (no second one until it reports). */
  readonly probing: boolean;
}

/** Settings of a circuit breaker. */
export interface CircuitOptions {
  /** Consecutive failures that open it. */
  failureThreshold: number;
  /** How long it stays open before a half-open probe, in ms. */
  openMs: number;
}

/** A closed circuit with no failures. */
export function closedCircuit(): Circuit {
  return { phase: "closed", consecutiveFailures: 0, openedAtMs: 0, probing: false };
}

/** Records a success: any circuit closes. */
export function circuitSucceeded(circuit: Circuit): Circuit {
  if (circuit.phase === "closed" && circuit.consecutiveFailures === 0) return circuit;
  return closedCircuit();
}

/** Records a failure at `nowMs`: opens the circuit at the threshold, or again after a failed probe. */
export function circuitFailed(circuit: Circuit, nowMs: number, options: CircuitOptions): Circuit {
  const failures = circuit.consecutiveFailures + 1;
  if (circuit.phase === "half_open" || failures >= options.failureThreshold) {
    return { phase: "open", consecutiveFailures: failures, openedAtMs: nowMs, probing: false };
  }
  return { ...circuit, consecutiveFailures: failures };
}

/** Moves an open circuit whose wait is over to half-open; other circuits are returned as they are. */
export function circuitTick(circuit: Circuit, nowMs: number, options: CircuitOptions): Circuit {
  if (circuit.phase === "open" && nowMs - circuit.openedAtMs >= options.openMs) {
    return { ...circuit, phase: "half_open", probing: false };
  }
  return circuit;
}

/** Whether the circuit lets ordinary traffic through (closed only). */
export function circuitAllows(circuit: Circuit): boolean {
  return circuit.phase === "closed";
}
