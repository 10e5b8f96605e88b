/** The state metrics on `/metrics`, read at scrape time from the fleet, admission, sessions and actor system (nothing on the hot path). */
import { Counter, Gauge, type Registry } from "prom-client";
import type { Fleet } from "../../../actors/router/mod.ts";
import type { Admission } from "../../../actors/admission/mod.ts";
import type { ActorSystem, Logger } from "../../../actors/runtime/mod.ts";

/** What the scrape-time collectors read. */
export interface FleetMetricsSources {
  fleet: Pick<Fleet, "backends">;
  admission?: Pick<Admission, "stats" | "waitingByClass">;
  /** The actor system: its restart tally, undelivered tells and dead letters. */
  system: Pick<ActorSystem, "restarts" | "undelivered" | "deadLetters" | "kv">;
  /** Sessions active on the whole store (a KV counter) and session actors live here. */
  sessions?: { active(): Promise<number>; liveActors(): number };
  /** The logger whose dropped lines are counted. */
  logger?: Pick<Logger, "dropped">;
}

/** Options of {@linkcode registerFleetMetrics}. */
export interface FleetMetricsOptions {
  /** Dead letters are listed from KV at most this often, in ms. @default 15000 */
  deadLetterEveryMs?: number;
  /** Clock in ms. @default Date.now */
  now?: () => number;
}

const CIRCUIT_STATES = ["closed", "half_open", "open"] as const;
const ADMISSION_OUTCOMES = {
  admitted_after_wait: "admittedAfterWait",
  queue_full: "queueFull",
  shed: "shed",
  abandoned: "abandoned",
} as const;

/**
 * Registers the gauges (and monotone counters kept elsewhere) that describe the gateway's state:
 * per backend health, circuit, in-flight, EWMA TTFT and the replica's scraped load; admission
 * queue depth and outcomes; sessions; actor restarts, undelivered tells and dead letters.
 */
export function registerFleetMetrics(
  registry: Registry,
  sources: FleetMetricsSources,
  options: FleetMetricsOptions = {},
): void {
  const registers = [registry];
  const { fleet, admission, system, sessions, logger } = sources;
  const backendLabels = ["model", "backend"] as const;
  const perBackend = (
    name: string,
    help: string,
    value: (b: ReturnType<Fleet["backends"]>[number]) => number | undefined,
  ) =>
    new Gauge({
      name,
      help,
      labelNames: backendLabels,
      registers,
      collect() {
        this.reset();
        for (const b of fleet.backends()) {
          const v = value(b);
          if (v !== undefined) this.set({ model: b.model, backend: b.id }, v);
        }
      },
    });
  perBackend(
    "turnpike_backend_in_flight",
    "Requests the gateway has in flight on each backend",
    (b) => b.report?.inFlight ?? 0,
  );
  perBackend(
    "turnpike_backend_healthy",
    "1 when the backend's last health probe passed, else 0",
    (b) => (b.report?.healthy ? 1 : 0),
  );
  perBackend(
    "turnpike_backend_eligible",
    "1 when the router may send the backend ordinary traffic (healthy, circuit closed)",
    (b) => (b.report?.eligible ? 1 : 0),
  );
  perBackend(
    "turnpike_backend_ewma_ttft_seconds",
    "The backend actor's EWMA of time to first token",
    (b) => b.report?.ewmaTtftMs === undefined ? undefined : b.report.ewmaTtftMs / 1000,
  );
  perBackend(
    "turnpike_backend_requests_running",
    "vllm:num_requests_running as last scraped from the replica",
    (b) => b.report?.metrics?.running,
  );
  perBackend(
    "turnpike_backend_requests_waiting",
    "vllm:num_requests_waiting as last scraped from the replica",
    (b) => b.report?.metrics?.waiting,
  );
  perBackend(
    "turnpike_backend_kv_cache_usage_ratio",
    "vllm:kv_cache_usage_perc (0 to 1) as last scraped from the replica",
    (b) => b.report?.metrics?.kvUsage,
  );
  perBackend(
    "turnpike_backend_prefix_cache_queries_tokens",
    "vllm:prefix_cache_queries_total as last scraped from the replica (the replica's own counter)",
    (b) => b.report?.metrics?.prefixQueries,
  );
  perBackend(
    "turnpike_backend_prefix_cache_hits_tokens",
    "vllm:prefix_cache_hits_total as last scraped from the replica (the replica's own counter)",
    (b) => b.report?.metrics?.prefixHits,
  );
  new Gauge({
    name: "turnpike_backend_circuit_state",
    help: "1 for the backend's current circuit state (closed, half_open, open), 0 for the others",
    labelNames: ["model", "backend", "state"],
    registers,
    collect() {
      this.reset();
      for (const b of fleet.backends()) {
        const current = b.report?.circuit ?? "closed";
        for (const state of CIRCUIT_STATES) {
          this.set({ model: b.model, backend: b.id, state }, state === current ? 1 : 0);
        }
      }
    },
  });
  if (admission) {
    new Gauge({
      name: "turnpike_admission_queue_depth",
      help: "Requests waiting in each model's admission queue, by priority class",
      labelNames: ["model", "priority"],
      registers,
      collect() {
        this.reset();
        for (const { model, priority, waiting } of admission.waitingByClass()) {
          this.set({ model, priority }, waiting);
        }
      },
    });
    new Counter({
      name: "turnpike_admission_outcomes_total",
      help:
        "What each model's admission queue did: admitted_after_wait, queue_full (429), shed (503), abandoned",
      labelNames: ["model", "outcome"],
      registers,
      collect() {
        this.reset();
        for (const [model, stats] of Object.entries(admission.stats())) {
          for (const [outcome, field] of Object.entries(ADMISSION_OUTCOMES)) {
            this.inc({ model, outcome }, stats[field]);
          }
        }
      },
    });
  }
  if (sessions) {
    new Gauge({
      name: "turnpike_sessions_active",
      help: "Active sessions on the gateway's KV store (every gateway process sharing it)",
      registers,
      async collect() {
        this.set(await sessions.active());
      },
    });
    new Gauge({
      name: "turnpike_session_actors",
      help: "Session actors live in this gateway process",
      registers,
      collect() {
        this.set(sessions.liveActors());
      },
    });
  }
  new Counter({
    name: "turnpike_actor_restarts_total",
    help: "Actors restarted by their supervisor since this process started",
    registers,
    collect() {
      this.reset();
      this.inc(system.restarts.restarts);
    },
  });
  new Counter({
    name: "turnpike_actor_undelivered_total",
    help: "Local messages sent to an address where no actor lives",
    registers,
    collect() {
      this.reset();
      this.inc(system.undelivered);
    },
  });
  const everyMs = options.deadLetterEveryMs ?? 15_000;
  const now = options.now ?? Date.now;
  let deadLetters = 0;
  let listedAt = -Infinity;
  new Gauge({
    name: "turnpike_actor_dead_letters",
    help: "Durable messages whose retries ran out, kept as dead-letter records in KV",
    registers,
    async collect() {
      if (system.kv !== undefined && now() - listedAt >= everyMs) {
        listedAt = now();
        deadLetters = (await system.deadLetters()).length;
      }
      this.set(deadLetters);
    },
  });
  if (logger) {
    new Counter({
      name: "turnpike_log_lines_dropped_total",
      help: "Log lines dropped because stderr fell behind",
      registers,
      collect() {
        this.reset();
        this.inc(logger.dropped);
      },
    });
  }
}
