/**
 * `GET /health/detailed`: every backend, the KV store (a write-read probe), the supervision tree,
 * version, uptime and config digest, with a `status` load balancers can act on (200 or 503).
 */
import { Hono } from "hono";
import type { Fleet, Registrations } from "../../actors/router/mod.ts";
import type { ActorSystem, SupervisionNode } from "../../actors/runtime/mod.ts";
import type { Config } from "../../config/mod.ts";
import { TURNPIKE_VERSION } from "./version.ts";
import type { JobStatusRow } from "../../actors/job/types.ts";

/** `healthy`, `degraded` or `unhealthy`: see {@linkcode healthStatus} for the rules. */
export type HealthStatus = "healthy" | "degraded" | "unhealthy";

/** One backend as `/health/detailed` shows it. */
export interface BackendHealth {
  id: string;
  model: string;
  url: string;
  /** Where it came from: `static` (config), `launched` (by this gateway) or `registered` (`POST /api/backends`). */
  source: string;
  /** The gateway process that registered it, for `registered` ones. */
  registered_by: string | null;
  /** The last health probe: true, false, or null before the first. */
  healthy: boolean | null;
  /** Whether the router may send it ordinary traffic. */
  eligible: boolean;
  circuit: string;
  in_flight: number;
  ewma_ttft_ms: number | null;
  /** From the replica's `/metrics`: `vllm:kv_cache_usage_perc` (0 to 1), running and waiting requests. */
  kv_cache_usage: number | null;
  running: number | null;
  waiting: number | null;
  /** `vllm:prefix_cache_hits_total / vllm:prefix_cache_queries_total` since the replica started. */
  prefix_hit_ratio: number | null;
  last_error: string | null;
}

/** The KV store's write-read probe. */
export interface KvHealth {
  reachable: boolean;
  /** How long the write and read took, in ms (null when they failed). */
  latency_ms: number | null;
  error: string | null;
}

/** What {@linkcode healthStatus} decides on. */
export interface HealthInputs {
  /** Each model and how many of its backends may take traffic. */
  models: { name: string; backends: number; eligible: number }[];
  backends: Pick<BackendHealth, "healthy" | "circuit">[];
  kv: Pick<KvHealth, "reachable">;
}

/**
 * The rules, in order:
 * - `unhealthy` (503) when the KV store fails its write-read probe (sessions, limits, keys and
 *   records all live there), or when there are models and none has an eligible backend (no
 *   request can be served);
 * - `degraded` (200) when a model has no eligible backend, when a backend failed its last probe
 *   or its circuit is not closed, or when no model is known yet;
 * - `healthy` (200) otherwise.
 */
export function healthStatus(inputs: HealthInputs): HealthStatus {
  if (!inputs.kv.reachable) return "unhealthy";
  const { models } = inputs;
  if (models.length > 0 && models.every((m) => m.eligible === 0)) return "unhealthy";
  if (models.length === 0 || models.some((m) => m.eligible === 0)) return "degraded";
  if (inputs.backends.some((b) => b.healthy === false || b.circuit !== "closed")) {
    return "degraded";
  }
  return "healthy";
}

/** Field names whose values are left out of the config digest: credentials, never hashed or shown. */
const SECRET_FIELD = /(^admin_key$|secret|password|token)/i;

/** `value` with object keys sorted and secret fields replaced, so equal configs digest alike. */
function normalised(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalised);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const field = (value as Record<string, unknown>)[key];
      if (field === undefined) continue;
      out[key] = SECRET_FIELD.test(key) && typeof field === "string"
        ? "<redacted>"
        : normalised(field);
    }
    return out;
  }
  return value;
}

/** The hex SHA-256 of the parsed config, keys sorted and secrets left out (the same on every gateway with the same config). */
export async function configDigest(config: Config): Promise<string> {
  const bytes = new TextEncoder().encode(JSON.stringify(normalised(config)));
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(hash, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Writes a key of this process's and reads it back, within `timeoutMs`. */
export async function probeKv(kv: Deno.Kv, nodeId: string, timeoutMs = 2_000): Promise<KvHealth> {
  const started = performance.now();
  const key = ["health", "probe", nodeId];
  const token = crypto.randomUUID();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const probe = (async () => {
      await kv.set(key, token, { expireIn: 60_000 });
      const read = await kv.get<string>(key);
      if (read.value !== token) throw new Error("the value read back differs from the one written");
    })();
    probe.catch(() => {});
    await Promise.race([probe, timeout]);
    return {
      reachable: true,
      latency_ms: Math.round((performance.now() - started) * 1000) / 1000,
      error: null,
    };
  } catch (error) {
    return {
      reachable: false,
      latency_ms: null,
      error: error instanceof Error ? error.message : String(error),
    };
  } finally {
    clearTimeout(timer);
  }
}

/** A level of the supervision tree as `/health/detailed` shows it: at most `cap` actors, the rest counted. */
export interface BoundedTree {
  actors: (Omit<SupervisionNode, "children"> & { children: BoundedTree })[];
  /** Actors left out at this level (thousands of session actors would make the answer huge). */
  omitted: number;
  /** Restarts of the actors left out, and of their descendants. */
  omitted_restarts: number;
}

function restartsIn(node: SupervisionNode): number {
  return node.children.reduce((sum, child) => sum + restartsIn(child), node.restarts);
}

/** `nodes` with at most `cap` actors per level: those that restarted first, then in start order. */
export function boundedTree(nodes: SupervisionNode[], cap = 50): BoundedTree {
  const restarted = nodes.filter((n) => restartsIn(n) > 0);
  const calm = nodes.filter((n) => restartsIn(n) === 0);
  const shown = [...restarted, ...calm].slice(0, cap);
  const kept = new Set(shown);
  const left = nodes.filter((n) => !kept.has(n));
  return {
    actors: nodes.filter((n) => kept.has(n)).map((n) => ({
      ...n,
      children: boundedTree(n.children, cap),
    })),
    omitted: left.length,
    omitted_restarts: left.reduce((sum, n) => sum + restartsIn(n), 0),
  };
}

/** The routing placements shared with other gateway processes, as `/health/detailed` shows them. */
export interface PlacementsHealth {
  /** `proxy.share_placements`. */
  shared: boolean;
  /** Whether another gateway process's heartbeat is on the KV store (sharing runs only then). */
  others_present: boolean;
  /** Placements of other processes taken in since the start. */
  absorbed: number;
  /** Other processes' prefills counted as load here now. */
  foreign_prefills: number;
}

/** What `/health/detailed` reads. */
export interface HealthServices {
  fleet: Fleet;
  registrations: Pick<Registrations, "of">;
  system: Pick<ActorSystem, "kv" | "supervisionTree" | "restarts" | "nodeId">;
  /** When the gateway started, in ms since the epoch. */
  startedAtMs: number;
  /** The config's digest ({@linkcode configDigest}). */
  configDigest: string;
  /** The job actors' status rows (launched replicas, SLURM or local); none without it. */
  jobs?: () => Promise<JobStatusRow[]>;
  /** The shared placements now; none without it. */
  placements?: () => PlacementsHealth;
}

function prefixHitRatio(hits: number | undefined, queries: number | undefined): number | null {
  if (hits === undefined || queries === undefined || queries === 0) return null;
  return hits / queries;
}

/** The `/health/detailed` route (an admin route once auth is on: it shows the replicas' addresses). */
export function healthRoutes(services: HealthServices): Hono {
  const { fleet, registrations, system } = services;
  const app = new Hono();
  app.get("/health/detailed", async (c) => {
    const backends: BackendHealth[] = fleet.backends().map((b) => {
      const r = b.report;
      const m = r?.metrics;
      return {
        id: b.id,
        model: b.model,
        url: b.url,
        source: b.source,
        registered_by: registrations.of(b.id, b.model)?.node ?? null,
        healthy: r?.healthy ?? null,
        eligible: r?.eligible ?? false,
        circuit: r?.circuit ?? "closed",
        in_flight: r?.inFlight ?? 0,
        ewma_ttft_ms: r?.ewmaTtftMs ?? null,
        kv_cache_usage: m?.kvUsage ?? null,
        running: m?.running ?? null,
        waiting: m?.waiting ?? null,
        prefix_hit_ratio: prefixHitRatio(m?.prefixHits, m?.prefixQueries),
        last_error: r?.lastError ?? null,
      };
    });
    const models = fleet.models().map((m) => ({
      name: m.name,
      backends: m.backends,
      eligible: m.healthy,
    }));
    const kv: KvHealth = system.kv
      ? await probeKv(system.kv, system.nodeId)
      : { reachable: false, latency_ms: null, error: "the gateway runs without a KV store" };
    const status = healthStatus({ models, backends, kv });
    const tree = boundedTree(system.supervisionTree());
    return c.json({
      status,
      version: TURNPIKE_VERSION,
      node: system.nodeId,
      uptime_s: Math.round((Date.now() - services.startedAtMs) / 1000),
      config_digest: services.configDigest,
      models,
      backends,
      kv,
      actors: { restarts: system.restarts.restarts, supervision: tree },
      jobs: services.jobs ? await services.jobs().catch(() => []) : [],
      ...(services.placements ? { placements: services.placements() } : {}),
    }, status === "unhealthy" ? 503 : 200);
  });
  return app;
}
