/** The gateway's handle on its routers and backends: spawns a RouterActor per model and gives the hot path synchronous access to their tables. */
import type { ProxyConfig } from "../../config/mod.ts";
import type { ActorRef, ActorSystem } from "../runtime/mod.ts";
import type { BackendReport, BackendSource, RequestOutcome } from "../backend/mod.ts";
import { ModelRouter, type RouterPlacements } from "./model_router.ts";
import { type AddResult, routerBehavior, type RouterMessage } from "./router_actor.ts";
import { linkOf, type Member } from "./routing_table.ts";
import { createPicker, strategyOptions } from "./strategies/mod.ts";
import type { BackendView, CacheReport, Picker, RequestFeatures } from "./strategies/mod.ts";

/** The id a backend gets from its URL when none is given: its host and port (and path, if any). */
export function backendIdFromUrl(url: string): string {
  const parsed = new URL(url);
  const path = parsed.pathname.replace(/\/+$/, "").replace(/[^A-Za-z0-9._:-]/g, "_");
  return `${parsed.host}${path}`;
}

/** Options of {@linkcode Fleet}. */
export interface FleetOptions {
  /** Clock in ms since the epoch. @default Date.now */
  now?: () => number;
  /** Builds a model's picker. @default createPicker(proxy.strategy, strategyOptions(proxy)) */
  picker?: (model: string) => Picker;
  /** Told of each model's picks of prompts with prefix blocks, to share with other gateway processes. */
  placements?: (model: string) => RouterPlacements;
}

/** One model as the fleet holds it. */
interface ModelEntry {
  router: ModelRouter;
  ref: ActorRef<RouterMessage>;
  /** Listed in the config (kept when its last backend leaves) or created by a registration. */
  configured: boolean;
}

/** One backend with its model, registration and last report, as `GET /api/backends` lists it. */
export interface BackendStatus extends Member {
  model: string;
  report: BackendReport | undefined;
}

/** A model with its backends' health, as `GET /v1/models` lists it. */
export interface ModelStatus {
  name: string;
  configured: boolean;
  backends: number;
  healthy: number;
}

const ASK_MS = 10_000;

/** The routers of every model and their backends, on one actor system. */
export class Fleet {
  #system: ActorSystem;
  #proxy: ProxyConfig;
  #now: () => number;
  #picker: (model: string) => Picker;
  #placements: FleetOptions["placements"];
  #models = new Map<string, ModelEntry>();

  /** @param system the actor system the actors run in, @param proxy the `proxy:` settings */
  constructor(system: ActorSystem, proxy: ProxyConfig, options: FleetOptions = {}) {
    this.#system = system;
    this.#proxy = proxy;
    this.#now = options.now ?? Date.now;
    this.#picker = options.picker ??
      (() => createPicker(proxy.strategy, strategyOptions(proxy, { now: this.#now })));
    this.#placements = options.placements;
  }

  /** Makes sure `model` has a router (spawning its actor); `configured` models stay listed with no backends. */
  addModel(model: string, configured = true): void {
    const known = this.#models.get(model);
    if (known) {
      known.configured ||= configured;
      return;
    }
    const placements = this.#placements?.(model);
    const router = new ModelRouter(model, this.#picker(model), placements ? { placements } : {});
    const ref = this.#system.spawn(
      routerBehavior({
        model,
        router,
        healthIntervalMs: this.#proxy.health_check_interval * 1000,
        scrapeIntervalMs: this.#proxy.metrics_scrape_interval * 1000,
        failureThreshold: this.#proxy.circuit_failure_threshold,
        openMs: this.#proxy.circuit_open_seconds * 1000,
        now: this.#now,
      }),
      model,
    );
    this.#models.set(model, { router, ref, configured });
  }

  /** The routing view of `model` (the hot path's synchronous pick), or undefined for an unknown model. */
  router(model: string): ModelRouter | undefined {
    const entry = this.#models.get(model);
    if (!entry || (!entry.configured && entry.router.table.size === 0)) return undefined;
    return entry.router;
  }

  /** Adds a backend of `model` (static, launched or registered); re-adding the same URL refreshes it. */
  addBackend(
    model: string,
    backend: { id: string; url: string; source: BackendSource; ttlMs?: number },
  ): Promise<AddResult> {
    this.addModel(model, backend.source !== "registered");
    const entry = this.#models.get(model) as ModelEntry;
    return entry.ref.ask<AddResult>({ type: "add", ...backend }, { timeoutMs: ASK_MS });
  }

  /** Removes backend `id` from `only` that model, or from whichever model has it; false when none does. */
  async removeBackend(id: string, only?: string): Promise<boolean> {
    // One replica may serve several model names (vLLM's --served-model-name): remove it from all.
    let removedAny = false;
    for (const [model, entry] of [...this.#models]) {
      if ((only !== undefined && model !== only) || !entry.router.get(id)) continue;
      const removed = await entry.ref.ask<boolean>({ type: "remove", id }, { timeoutMs: ASK_MS });
      if (removed && !entry.configured && entry.router.table.size === 0) this.#dropModel(model);
      removedAny ||= removed;
    }
    return removedAny;
  }

  /** Refreshes the heartbeat of registered backend `id` in every model it serves; undefined when it is unknown. */
  async heartbeat(id: string): Promise<AddResult | undefined> {
    let result: AddResult | undefined;
    for (const entry of this.#models.values()) {
      if (!entry.router.get(id)) continue;
      result = await entry.ref.ask<AddResult | undefined>({ type: "heartbeat", id }, {
        timeoutMs: ASK_MS,
      }) ?? result;
    }
    return result;
  }

  /** Tells the BackendActor behind `backend` (a view `pick` returned) that a request started on it. */
  started(backend: BackendView): void {
    linkOf(backend)?.actor.tell({ type: "acquired" });
  }

  /**
   * Tells the BackendActor behind `backend` how a request on it ended: the actor of the view's
   * own snapshot, so a request that outlived a replacement is not counted on the new replica.
   */
  finished(backend: BackendView, outcome: RequestOutcome): void {
    linkOf(backend)?.actor.tell({ type: "released", outcome });
  }

  /**
   * Tells the RouterActor of `features.model` what `backend` reported of the request's cached
   * prefix (a message: the strategies learn after the answer, off the hot path).
   */
  cacheReport(backend: BackendView, features: RequestFeatures, report: CacheReport): void {
    this.#models.get(features.model)?.ref.tell({
      type: "cache_report",
      backendId: backend.id,
      features,
      report,
    });
  }

  /** Every model with its backend counts. */
  models(): ModelStatus[] {
    this.#dropEmptyRegistered();
    return [...this.#models].map(([name, entry]) => {
      const backends = entry.router.list();
      return {
        name,
        configured: entry.configured,
        backends: backends.length,
        healthy: entry.router.eligibleCount,
      };
    });
  }

  /** Every backend of every model with its last report. */
  backends(): BackendStatus[] {
    const all: BackendStatus[] = [];
    for (const [model, entry] of this.#models) {
      for (const { member, report } of entry.router.list()) all.push({ ...member, model, report });
    }
    return all;
  }

  /** The last report of backend `id` of `model`, if it has reported. */
  report(model: string, id: string): BackendReport | undefined {
    return this.#models.get(model)?.router.get(id)?.report;
  }

  /** Resolves once every backend of `model` has reported at least once, or after `timeoutMs`. */
  async settled(model: string, timeoutMs: number): Promise<void> {
    const deadline = this.#now() + timeoutMs;
    for (;;) {
      const entry = this.#models.get(model);
      if (!entry) return;
      const reported = entry.router.list().every((b) => b.report?.healthy !== undefined);
      if (reported || this.#now() >= deadline) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Stops every router actor (and with them their backend actors). */
  async close(): Promise<void> {
    await Promise.all([...this.#models.keys()].map((model) => this.#dropModel(model)));
  }

  #dropEmptyRegistered(): void {
    for (const [model, entry] of this.#models) {
      if (!entry.configured && entry.router.table.size === 0) this.#dropModel(model);
    }
  }

  #dropModel(model: string): Promise<void> {
    const entry = this.#models.get(model);
    if (!entry) return Promise.resolve();
    this.#models.delete(model);
    return this.#system.stop(entry.ref.address);
  }
}
