/** Continuous SLO evaluation in the gateway process: samples from every finished record (no KV), burn per model and objective on a timer, violations counted, logged and shown. */
import { Counter, Gauge, type Registry } from "prom-client";
import type { ModelSloConfig, SloConfig } from "../../../config/slo_schema.ts";
import { type Logger, logger as defaultLogger } from "../../../actors/runtime/mod.ts";
import type { RecordStore, RequestRecord } from "../../records.ts";
import type {
  SloModelStatus,
  SloObjective,
  SloObjectiveStatus,
  SloResponse,
} from "../api_types.ts";
import { objectiveBurns, type SloSample, sloSample, worstBurn } from "./burn.ts";

/** Samples kept per model at most; the oldest go first. */
export const MAX_SAMPLES_PER_MODEL = 100_000;
/** Samples are kept this long at most (the longest window a canary or objective may have). */
const HORIZON_MS = 86_400_000;

/** Options of {@linkcode SloTracker}. */
export interface SloTrackerOptions {
  /** `slo:`. */
  config: SloConfig;
  /** The records whose every addition is sampled. */
  records: Pick<RecordStore, "subscribe">;
  /** Where `turnpike_slo_burn_rate` and `turnpike_slo_violations_total` are registered. */
  registry?: Registry;
  logger?: Pick<Logger, "warn" | "info">;
  /**
   * The side of a routing canary that routed a record's request (a pure function of its model
   * and session while the canary runs), when the record does not say.
   */
  armOf?: (record: RequestRecord) => "canary" | "incumbent" | undefined;
  /** Clock in ms since the epoch. @default Date.now */
  now?: () => number;
}

/** Told after each evaluation (a canary's judge runs then). */
export type EvaluationListener = (nowMs: number) => void;

/** Samples every finished request of the models with objectives and evaluates their burn every `slo.evaluate_interval`. */
export class SloTracker {
  readonly #config: SloConfig;
  readonly #now: () => number;
  readonly #logger: Pick<Logger, "warn" | "info">;
  readonly #samples = new Map<string, SloSample[]>();
  readonly #status = new Map<string, SloModelStatus>();
  readonly #violations = new Map<string, number>();
  readonly #listeners = new Set<EvaluationListener>();
  readonly #unsubscribe: () => void;
  readonly #violationCounter: Counter<"model" | "objective"> | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;

  /** @param options the config, the records to sample and where metrics go */
  constructor(options: SloTrackerOptions) {
    this.#config = options.config;
    this.#now = options.now ?? Date.now;
    this.#logger = options.logger ?? defaultLogger;
    for (const model of Object.keys(this.#config.models)) this.#samples.set(model, []);
    this.#unsubscribe = options.records.subscribe((record) => {
      const list = this.#samples.get(record.model);
      if (list === undefined) return;
      const sample = sloSample(record);
      if (sample === undefined) return;
      if (sample.arm === undefined) {
        const arm = options.armOf?.(record);
        if (arm !== undefined) sample.arm = arm;
      }
      list.push(sample);
      if (list.length > MAX_SAMPLES_PER_MODEL) list.splice(0, list.length - MAX_SAMPLES_PER_MODEL);
    });
    if (options.registry) {
      const registers = [options.registry];
      const status = this.#status;
      new Gauge({
        name: "turnpike_slo_burn_rate",
        help:
          "Error-budget burn of each SLO objective over its window at the last evaluation (above 1: violated)",
        labelNames: ["model", "objective"],
        registers,
        collect() {
          this.reset();
          for (const m of status.values()) {
            for (const o of m.objectives) {
              if (o.burn !== null) this.set({ model: m.model, objective: o.objective }, o.burn);
            }
          }
        },
      });
      this.#violationCounter = new Counter({
        name: "turnpike_slo_violations_total",
        help: "Times an SLO objective went from met to violated",
        labelNames: ["model", "objective"],
        registers,
      });
      for (const [model, slo] of Object.entries(this.#config.models)) {
        for (const objective of objectivesOf(slo)) {
          this.#violationCounter.inc({ model, objective }, 0);
        }
      }
    }
  }

  /** The objectives of `model`, undefined when `slo:` sets none. */
  objectives(model: string): ModelSloConfig | undefined {
    return this.#config.models[model];
  }

  /** Starts evaluating every `slo.evaluate_interval` seconds. */
  start(): void {
    if (this.#timer !== undefined || this.#samples.size === 0) return;
    this.#timer = setInterval(() => this.evaluate(), this.#config.evaluate_interval * 1000);
  }

  /** Calls `listener` after every evaluation; returns the unsubscribe function. */
  onEvaluate(listener: EvaluationListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Evaluates every model's objectives now: burns, violations (counted and logged), then the listeners. */
  evaluate(): void {
    const nowMs = this.#now();
    for (const [model, slo] of Object.entries(this.#config.models)) {
      const list = this.#samples.get(model) ?? [];
      let drop = 0;
      while (drop < list.length && list[drop]!.atMs < nowMs - HORIZON_MS) drop++;
      if (drop > 0) list.splice(0, drop);
      const windowS = slo.window ?? this.#config.window;
      const since = nowMs - windowS * 1000;
      const recent = list.filter((s) => s.atMs >= since);
      const before = this.#status.get(model);
      const objectives: SloObjectiveStatus[] = objectiveBurns(recent, slo).map((b) => {
        const violated = b.burn !== null && b.burn > 1;
        const key = `${model}\u0000${b.objective}`;
        const wasViolated = before?.objectives.find((o) => o.objective === b.objective)?.violated ??
          false;
        if (violated && !wasViolated) {
          this.#violations.set(key, (this.#violations.get(key) ?? 0) + 1);
          this.#violationCounter?.inc({ model, objective: b.objective });
          this.#logger.warn("SLO violated", {
            model,
            objective: b.objective,
            value: b.value,
            target: b.target,
            burn: b.burn,
            samples: b.samples,
            window_s: windowS,
          });
        } else if (!violated && wasViolated) {
          this.#logger.info("SLO met again", {
            model,
            objective: b.objective,
            value: b.value,
            target: b.target,
            burn: b.burn,
            window_s: windowS,
          });
        }
        return { ...b, violated, violations_total: this.#violations.get(key) ?? 0 };
      });
      this.#status.set(model, {
        model,
        window_s: windowS,
        burn: worstBurn(objectives),
        objectives,
      });
    }
    for (const listener of this.#listeners) listener(nowMs);
  }

  /**
   * The worst burn of `model`'s objectives over its requests since `sinceMs` that `arm` picked,
   * with their count; burn null without samples or objectives.
   */
  burnSince(
    model: string,
    sinceMs: number,
    arm: "canary" | "incumbent",
  ): { burn: number | null; requests: number } {
    const slo = this.#config.models[model];
    const list = this.#samples.get(model);
    if (slo === undefined || list === undefined) return { burn: null, requests: 0 };
    const chosen = list.filter((s) => s.atMs >= sinceMs && s.arm === arm);
    return { burn: worstBurn(objectiveBurns(chosen, slo)), requests: chosen.length };
  }

  /** `GET /api/slo`: every model with objectives, as last evaluated (evaluated now the first time). */
  status(): SloResponse {
    if (this.#status.size === 0 && this.#samples.size > 0) this.evaluate();
    return {
      models: Object.keys(this.#config.models).map((model) =>
        this.#status.get(model) ?? {
          model,
          window_s: this.#config.models[model]?.window ?? this.#config.window,
          burn: null,
          objectives: [],
        }
      ),
    };
  }

  /** Stops the timer and the sampling. */
  close(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#unsubscribe();
  }
}

function objectivesOf(slo: ModelSloConfig): SloObjective[] {
  const out: SloObjective[] = [];
  if (slo.ttft_p95_ms !== undefined) out.push("ttft_p95");
  if (slo.itl_p95_ms !== undefined) out.push("itl_p95");
  if (slo.error_rate !== undefined) out.push("error_rate");
  return out;
}
