/**
 * Run-time routing changes (`POST /api/routing`): a model's strategy switched at once, or
 * first on a canary share of its sessions, judged against the SLO burn of the incumbent's
 * sessions over the canary window and then promoted or rolled back (logged with the figures).
 */
import { Counter, type Registry } from "prom-client";
import type { SloConfig } from "../../../config/slo_schema.ts";
import { type Logger, logger as defaultLogger } from "../../../actors/runtime/mod.ts";
import type { PickerSwitches } from "../../../actors/router/switchable_picker.ts";
import type { StrategySpec } from "../../../actors/router/strategies/mod.ts";
import type { RoutingChangeInput } from "../analysis_schemas.ts";
import type {
  RoutingCanary,
  RoutingEvent,
  RoutingModelState,
  RoutingResponse,
} from "../api_types.ts";
import type { SloTracker } from "../slo/mod.ts";
import { type SharedEntry, type SharedRouting, specKey } from "./shared_routing.ts";
import { Repeating } from "../../../actors/runtime/mod.ts";

/** Events kept per model. */
const HISTORY = 20;
/** A canary's window when the request gives none, in seconds. */
export const DEFAULT_CANARY_WINDOW_S = 300;

/** Options of {@linkcode RoutingController}. */
export interface RoutingControllerOptions {
  /** The models' switchable pickers (the fleet routes through them). */
  switches: PickerSwitches;
  /** The SLO tracker whose burns judge a canary; its evaluations run the judge. */
  slo: Pick<SloTracker, "objectives" | "burnSince" | "onEvaluate">;
  /** `slo:` (the canary's tolerance and least requests). */
  config: Pick<SloConfig, "canary_tolerance" | "canary_min_requests">;
  /** Where `turnpike_routing_changes_total` is registered. */
  registry?: Registry;
  logger?: Pick<Logger, "warn" | "info">;
  /** Told after any model's strategy or canary changed (the gateway rechecks what its features need). */
  changed?: () => void;
  /**
   * Shares every change with the other gateway processes on the KV store and applies theirs,
   * read every `syncMs`; this process's `nodeId` judges the canaries it started. Without it the
   * routing is this process's own.
   */
  shared?: { store: SharedRouting; nodeId: string; syncMs: number };
  /** Clock in ms since the epoch. @default Date.now */
  now?: () => number;
}

/** A refused change: the HTTP status and an OpenAI-shaped error's fields. */
export interface RoutingRefusal {
  status: 400 | 404;
  message: string;
  param: string | null;
  code: string;
}

/** A canary under way, as the controller keeps it. */
interface Running {
  strategy: StrategySpec;
  incumbent: StrategySpec;
  share: number;
  windowS: number;
  startedAtMs: number;
  endsAtMs: number;
  /** The process that started it, which judges it. */
  node: string;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Changes the models' routing and judges canaries at every SLO evaluation. */
export class RoutingController {
  readonly #switches: PickerSwitches;
  readonly #slo: RoutingControllerOptions["slo"];
  readonly #config: RoutingControllerOptions["config"];
  readonly #logger: Pick<Logger, "warn" | "info">;
  readonly #now: () => number;
  readonly #changed: () => void;
  readonly #canaries = new Map<string, Running>();
  readonly #history = new Map<string, RoutingEvent[]>();
  readonly #changes: Counter<"model" | "kind"> | undefined;
  readonly #unsubscribe: () => void;
  readonly #shared: RoutingControllerOptions["shared"];
  readonly #nodeId: string;
  readonly #sync: Repeating | undefined;

  /** @param options the pickers, the SLO tracker and config, where metrics and logs go */
  constructor(options: RoutingControllerOptions) {
    this.#switches = options.switches;
    this.#slo = options.slo;
    this.#config = options.config;
    this.#logger = options.logger ?? defaultLogger;
    this.#now = options.now ?? Date.now;
    this.#changed = options.changed ?? (() => {});
    this.#shared = options.shared;
    this.#nodeId = options.shared?.nodeId ?? "local";
    if (this.#shared !== undefined) {
      this.#sync = new Repeating(() => this.sync(), {
        intervalMs: this.#shared.syncMs,
        what: "read the shared routing changes from KV",
        keepsAlive: false,
      });
    }
    if (options.registry) {
      this.#changes = new Counter({
        name: "turnpike_routing_changes_total",
        help:
          "Run-time routing changes by kind: set, canary_started, promoted, rolled_back (POST /api/routing)",
        labelNames: ["model", "kind"],
        registers: [options.registry],
      });
    }
    this.#unsubscribe = this.#slo.onEvaluate((nowMs) => this.judge(nowMs));
  }

  /** `GET /api/routing`: every model's strategy, canary and latest changes. */
  state(models?: readonly string[]): RoutingResponse {
    const names = models ?? this.#switches.models();
    return { models: names.map((model) => this.#modelState(model)) };
  }

  /** Applies a `POST /api/routing` body; the models changed, or why not. */
  change(input: RoutingChangeInput): { ok: true; models: string[] } | {
    ok: false;
    refusal: RoutingRefusal;
  } {
    const known = this.#switches.models();
    if (input.model !== undefined && !known.includes(input.model)) {
      return {
        ok: false,
        refusal: {
          status: 404,
          message: `No model "${input.model}" is routed here; GET /api/routing lists them`,
          param: "model",
          code: "model_not_found",
        },
      };
    }
    const nowMs = this.#now();
    if (input.canary_share === undefined) {
      const models = input.model === undefined ? known : [input.model];
      if (input.model === undefined) {
        this.#switches.setDefault(input.strategy);
        this.#share(undefined);
      }
      for (const model of models) {
        const picker = this.#switches.get(model)!;
        const from = picker.strategy;
        picker.set(input.strategy);
        this.#canaries.delete(model);
        this.#record(model, {
          at: iso(nowMs),
          kind: "set",
          from,
          to: input.strategy,
          reason: "set through POST /api/routing",
        });
        this.#logger.info("Routing strategy changed", { model, from, to: input.strategy });
      }
      return { ok: true, models };
    }
    if (input.model === undefined) {
      return {
        ok: false,
        refusal: {
          status: 400,
          message: "A canary runs on one model: add model to the body",
          param: "model",
          code: "invalid_routing_change",
        },
      };
    }
    const model = input.model;
    if (this.#slo.objectives(model) === undefined) {
      return {
        ok: false,
        refusal: {
          status: 400,
          message:
            `Model "${model}" has no slo: objectives to judge a canary by; add slo.models.${model} to the config, or leave canary_share out to switch at once`,
          param: "canary_share",
          code: "slo_required",
        },
      };
    }
    const picker = this.#switches.get(model)!;
    const windowS = input.canary_window ?? DEFAULT_CANARY_WINDOW_S;
    picker.startCanary(input.strategy, input.canary_share);
    this.#canaries.set(model, {
      strategy: input.strategy,
      incumbent: picker.strategy,
      share: input.canary_share,
      windowS,
      startedAtMs: nowMs,
      endsAtMs: nowMs + windowS * 1000,
      node: this.#nodeId,
    });
    this.#record(model, {
      at: iso(nowMs),
      kind: "canary_started",
      from: picker.strategy,
      to: input.strategy,
      reason: `${Math.round(input.canary_share * 100)}% of sessions for ${windowS} s`,
    });
    this.#logger.info("Routing canary started", {
      model,
      incumbent: picker.strategy,
      canary: input.strategy,
      share: input.canary_share,
      window_s: windowS,
    });
    return { ok: true, models: [model] };
  }

  /** Promotes or rolls back every canary whose window has ended by `nowMs`. */
  judge(nowMs: number): void {
    // Another process's canary is its to judge, unless it has been silent for a few syncs past the end.
    const orphanedAfterMs = this.#shared === undefined ? 0 : 3 * this.#shared.syncMs + 1000;
    for (const [model, canary] of this.#canaries) {
      if (nowMs < canary.endsAtMs) continue;
      if (canary.node !== this.#nodeId && nowMs < canary.endsAtMs + orphanedAfterMs) continue;
      this.#canaries.delete(model);
      const picker = this.#switches.get(model);
      if (picker === undefined) continue;
      const c = this.#slo.burnSince(model, canary.startedAtMs, "canary");
      const i = this.#slo.burnSince(model, canary.startedAtMs, "incumbent");
      const least = this.#config.canary_min_requests;
      const tolerance = this.#config.canary_tolerance;
      let verdict: { promote: boolean; reason: string };
      if (c.requests < least || i.requests < least || c.burn === null || i.burn === null) {
        verdict = {
          promote: false,
          reason:
            `too few requests to judge (canary ${c.requests}, incumbent ${i.requests}; ${least} each needed)`,
        };
      } else if (c.burn - i.burn > tolerance * Math.max(1, i.burn)) {
        verdict = {
          promote: false,
          reason: `SLO burn ${c.burn.toFixed(2)} against the incumbent's ${i.burn.toFixed(2)}`,
        };
      } else {
        verdict = {
          promote: true,
          reason: `SLO burn ${c.burn.toFixed(2)} against the incumbent's ${i.burn.toFixed(2)}`,
        };
      }
      if (verdict.promote) picker.promote();
      else picker.rollback();
      const kind = verdict.promote ? "promoted" : "rolled_back";
      this.#record(model, {
        at: iso(nowMs),
        kind,
        from: canary.strategy,
        to: verdict.promote ? canary.strategy : canary.incumbent,
        reason: verdict.reason,
        canary_burn: c.burn,
        incumbent_burn: i.burn,
      });
      const fields = {
        model,
        canary: canary.strategy,
        incumbent: canary.incumbent,
        canary_burn: c.burn,
        incumbent_burn: i.burn,
        canary_requests: c.requests,
        incumbent_requests: i.requests,
        tolerance,
        reason: verdict.reason,
      };
      if (verdict.promote) this.#logger.info("Routing canary promoted", fields);
      else this.#logger.warn("Routing canary rolled back", fields);
    }
  }

  /** Reads the shared changes once and applies them (and schedules the next reads). */
  async start(): Promise<void> {
    if (this.#shared === undefined) return;
    await this.sync();
    this.#sync?.start();
  }

  /** Applies the changes other processes shared since the last read. */
  async sync(): Promise<void> {
    if (this.#shared === undefined) return;
    const changes = await this.#shared.store.changes();
    if (changes.default !== undefined) this.#switches.setDefault(changes.default.strategy);
    for (const [model, entry] of changes.models) this.#apply(model, entry);
    if (changes.default !== undefined || changes.models.size > 0) this.#changed();
  }

  /** Stops judging and reading the shared changes. */
  close(): void {
    this.#unsubscribe();
    this.#sync?.stop();
  }

  #record(model: string, event: RoutingEvent): void {
    const list = this.#history.get(model) ?? [];
    list.unshift(event);
    if (list.length > HISTORY) list.length = HISTORY;
    this.#history.set(model, list);
    this.#changes?.inc({ model, kind: event.kind });
    this.#changed();
    this.#share(model);
  }

  /** Writes `model`'s routing (undefined: the default) for the other processes. */
  #share(model: string | undefined): void {
    const shared = this.#shared;
    if (shared === undefined) return;
    const picker = model === undefined ? undefined : this.#switches.get(model);
    const canary = model === undefined ? undefined : this.#canaries.get(model);
    const entry: Omit<SharedEntry, "base"> = {
      strategy: picker?.strategy ?? this.#switches.defaultStrategy,
      canary: canary ?? null,
      history: model === undefined ? [] : this.#history.get(model) ?? [],
    };
    shared.store.write(model, entry).catch((error) =>
      this.#logger.warn("cannot share a routing change through KV", {
        model: model ?? null,
        error: error instanceof Error ? error.message : String(error),
      })
    );
  }

  /** Makes `model`'s routing what another process shared: its strategy, canary and history. */
  #apply(model: string, entry: SharedEntry): void {
    const picker = this.#switches.pickerFor(model);
    const local = this.#canaries.get(model);
    const remote = entry.canary;
    if (remote !== null) {
      const same = local !== undefined && local.startedAtMs === remote.startedAtMs &&
        local.node === remote.node;
      if (!same) {
        if (specKey(picker.strategy) !== specKey(entry.strategy)) picker.set(entry.strategy);
        picker.startCanary(remote.strategy, remote.share);
        this.#canaries.set(model, { ...remote });
      }
    } else {
      if (local !== undefined) {
        // Judged elsewhere: the strategy now in force says which way.
        if (specKey(entry.strategy) === specKey(local.strategy)) picker.promote();
        else picker.rollback();
        this.#canaries.delete(model);
      }
      if (specKey(picker.strategy) !== specKey(entry.strategy)) picker.set(entry.strategy);
    }
    this.#history.set(model, entry.history.slice(0, HISTORY));
  }

  #modelState(model: string): RoutingModelState {
    const picker = this.#switches.get(model);
    const running = this.#canaries.get(model);
    let canary: RoutingCanary | null = null;
    if (running !== undefined) {
      const c = this.#slo.burnSince(model, running.startedAtMs, "canary");
      const i = this.#slo.burnSince(model, running.startedAtMs, "incumbent");
      canary = {
        strategy: running.strategy,
        share: running.share,
        window_s: running.windowS,
        started_at: iso(running.startedAtMs),
        ends_at: iso(running.endsAtMs),
        canary_burn: c.burn,
        incumbent_burn: i.burn,
        canary_requests: c.requests,
        incumbent_requests: i.requests,
      };
    }
    return {
      model,
      strategy: picker?.strategy ?? this.#switches.defaultStrategy,
      canary,
      history: this.#history.get(model) ?? [],
    };
  }
}
