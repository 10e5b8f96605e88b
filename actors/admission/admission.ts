/** The gateway's admission control: one gate per model router, the attained service of every session, and the settings they share. */
import type { AdmissionConfig } from "../../config/admission_schema.ts";
import type { ModelRouter } from "../router/mod.ts";
import { PRIORITY_CLASSES, type PriorityClass } from "../../proxy/auth/principal.ts";
import { AttainedService } from "./attained.ts";
import type { CapacityOptions } from "./capacity.ts";
import { AdmissionGate, type AdmissionStats } from "./gate.ts";

/** Options of {@linkcode Admission}. */
export interface AdmissionOptions {
  /** Models whose replicas run vLLM's `--scheduling-policy priority` (they get a `priority` field). */
  priorityModels?: Iterable<string>;
  /** Clock in ms, the one request deadlines are on. @default performance.now */
  now?: () => number;
  /** How often a gate looks over its waiting requests, in ms. @default 200 */
  sweepMs?: number;
}

/**
 * Admission control for every model: a {@linkcode AdmissionGate} per model router, made on first
 * use, and the attained service of sessions, shared by all models.
 */
export class Admission {
  /** The `admission:` settings. */
  readonly config: AdmissionConfig;
  /** The caps every gate applies. */
  readonly capacity: CapacityOptions;
  /** The GPU time sessions (or clients) attained lately. */
  readonly attained: AttainedService;
  readonly #priorityModels: ReadonlySet<string>;
  readonly #now: () => number;
  readonly #sweepMs: number | undefined;
  readonly #gates = new Map<ModelRouter, AdmissionGate>();

  /** @param config the `admission:` settings, @param options vLLM priority models and clock */
  constructor(config: AdmissionConfig, options: AdmissionOptions = {}) {
    this.config = config;
    this.#now = options.now ?? (() => performance.now());
    this.#sweepMs = options.sweepMs;
    this.capacity = {
      maxInFlight: config.max_in_flight_per_replica,
      kvFraction: config.kv_fraction,
      outputTokensEstimate: config.output_tokens_estimate,
    };
    this.attained = new AttainedService({
      halfLifeMs: config.attained_half_life * 1000,
      now: this.#now,
    });
    this.#priorityModels = new Set(options.priorityModels ?? []);
  }

  /** The clock deadlines are compared on. */
  now(): number {
    return this.#now();
  }

  /** Whether requests to `model` carry vLLM's `priority` field. */
  sendsPriority(model: string): boolean {
    return this.#priorityModels.has(model);
  }

  /** The gate of `router`, made (and limiting it) on first use. */
  gate(router: ModelRouter): AdmissionGate {
    let gate = this.#gates.get(router);
    if (gate === undefined) {
      gate = new AdmissionGate(router, {
        capacity: this.capacity,
        maxQueue: this.config.max_queue,
        weights: this.config.weights,
        shedEarly: this.config.shed_early,
        maxWaitMs: (this.config.max_queue_wait ?? Infinity) * 1000,
        ...(this.config.adaptive
          ? {
            adaptive: {
              floor: this.config.min_in_flight_per_replica,
              tolerance: this.config.latency_tolerance,
              minQueueingMs: this.config.min_queueing_ms,
              queueWaitFactor: this.config.queue_wait_factor,
            },
          }
          : {}),
        now: this.#now,
        ...(this.#sweepMs === undefined ? {} : { sweepMs: this.#sweepMs }),
      });
      this.#gates.set(router, gate);
    }
    return gate;
  }

  /**
   * What each model's gate did, how many requests wait there now, and each replica's adaptive
   * in-flight limit (empty when not adaptive).
   */
  stats(): Record<string, AdmissionStats & { waiting: number; limits: Record<string, number> }> {
    const out: Record<
      string,
      AdmissionStats & { waiting: number; limits: Record<string, number> }
    > = {};
    for (const [router, gate] of this.#gates) {
      out[router.model] = { ...gate.stats, waiting: gate.waiting, limits: gate.limits() };
    }
    return out;
  }

  /** How many requests wait in each model's queue, by priority class (for `/metrics`). */
  waitingByClass(): { model: string; priority: PriorityClass; waiting: number }[] {
    const out: { model: string; priority: PriorityClass; waiting: number }[] = [];
    for (const [router, gate] of this.#gates) {
      for (const priority of PRIORITY_CLASSES) {
        out.push({ model: router.model, priority, waiting: gate.waitingOf(priority) });
      }
    }
    return out;
  }

  /** Refuses every waiting request and stops the gates' sweeps. */
  close(): void {
    for (const gate of this.#gates.values()) gate.close();
    this.#gates.clear();
  }
}
