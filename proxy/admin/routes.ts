/** Operations routes: `/health`, `GET /v1/models`, the backend registration API, `/api/requests` and `/api/stats`. */
import { Hono } from "hono";
import type { z } from "zod";
import { backendIdFromUrl, type Fleet, type Registrations } from "../../actors/router/mod.ts";
import type { Admission } from "../../actors/admission/mod.ts";
import { errorResponse } from "../errors.ts";
import { allowsModel, principalOf } from "../auth/principal.ts";
import { firstIssue, jsonBody } from "../json_body.ts";
import type { RecordFilter, StatusClass } from "../record_filter.ts";
import type { LoggedRecord, RecordLog } from "../record_log.ts";
import { recordStats, type RecordStore, type RequestRecord } from "../records.ts";
import {
  RegisterBackendBody,
  RequestsQuery,
  type RequestsQueryInput,
  StatsQuery,
} from "./schemas.ts";

/** What the operations routes read. */
export interface AdminServices {
  fleet: Fleet;
  records: RecordStore;
  /** The records of every gateway process on the KV store. */
  log: RecordLog;
  /** The backend registrations every gateway process on the KV store shares. */
  registrations: Registrations;
  /** This gateway process (its actor system's node id). */
  nodeId: string;
  /** When the gateway started, in ms since the epoch. */
  startedAtMs: number;
  /** Admission control, whose per-model counters `/api/stats` shows (this process's). */
  admission?: Pick<Admission, "stats">;
}

/** The query's values parsed by `schema`, or an OpenAI-shaped 400 naming the parameter at fault. */
export function parseQuery<T extends z.ZodType>(
  query: Record<string, string>,
  schema: T,
): { ok: true; value: z.infer<T> } | { ok: false; response: Response } {
  const parsed = schema.safeParse(query);
  if (parsed.success) return { ok: true, value: parsed.data };
  const { param, message, unknown } = firstIssue(parsed.error);
  const text = unknown
    ? `Unknown query parameter "${param}"; remove it`
    : `Query ${param ?? "string"} is invalid: ${message}`;
  return { ok: false, response: errorResponse(400, text, { param, code: "invalid_query" }) };
}

function filterOf(query: RequestsQueryInput): RecordFilter {
  const status = query.status === undefined
    ? undefined
    : query.status.endsWith("xx")
    ? query.status as StatusClass
    : Number(query.status);
  return {
    ...(query.session === undefined ? {} : { sessionId: query.session }),
    ...(query.task === undefined ? {} : { taskId: query.task }),
    ...(query.client === undefined ? {} : { clientId: query.client }),
    ...(query.model === undefined ? {} : { model: query.model }),
    ...(query.backend === undefined ? {} : { backendId: query.backend }),
    ...(query.endpoint === undefined ? {} : { endpoint: query.endpoint }),
    ...(status === undefined ? {} : { status }),
  };
}

function countByNode(records: LoggedRecord[]): Record<string, number> {
  const nodes: Record<string, number> = {};
  for (const r of records) nodes[r.node] = (nodes[r.node] ?? 0) + 1;
  return nodes;
}

/** The operations routes, mounted at the root of the gateway's app. */
export function adminRoutes(services: AdminServices): Hono {
  const { fleet, records, log, registrations, nodeId } = services;
  const app = new Hono();
  const local = (record: RequestRecord): LoggedRecord => ({
    ...record,
    node: nodeId,
  });

  app.get("/health", (c) => {
    const models = fleet.models();
    const ready = models.length > 0 && models.every((m) => m.healthy > 0);
    return c.json({
      status: ready ? "ok" : "degraded",
      uptime_s: Math.round((Date.now() - services.startedAtMs) / 1000),
      models: models.map((m) => ({ name: m.name, backends: m.backends, healthy: m.healthy })),
    });
  });

  app.get("/v1/models", (c) => {
    const created = Math.floor(services.startedAtMs / 1000);
    const principal = principalOf(c.req.raw);
    return c.json({
      object: "list",
      data: fleet.models().filter((m) => allowsModel(principal, m.name)).map((m) => ({
        id: m.name,
        object: "model",
        created,
        owned_by: "turnpike",
        turnpike: {
          backends: m.backends,
          healthy: m.healthy,
          status: m.healthy > 0 ? "healthy" : "unavailable",
        },
      })),
    });
  });

  app.get("/api/backends", (c) => {
    return c.json({
      backends: fleet.backends().map((b) => ({
        id: b.id,
        model: b.model,
        url: b.url,
        source: b.source,
        ttl_seconds: b.ttlMs === undefined ? null : b.ttlMs / 1000,
        expires_at: b.expiresAtMs === undefined ? null : new Date(b.expiresAtMs).toISOString(),
        registered_by: registrations.of(b.id, b.model)?.node ?? null,
        healthy: b.report?.healthy ?? null,
        eligible: b.report?.eligible ?? false,
        circuit: b.report?.circuit ?? "closed",
        in_flight: b.report?.inFlight ?? 0,
        completed: b.report?.completed ?? 0,
        failed: b.report?.failed ?? 0,
        ewma_ttft_ms: b.report?.ewmaTtftMs ?? null,
        ewma_latency_ms: b.report?.ewmaLatencyMs ?? null,
        load: b.report?.metrics ?? null,
        last_error: b.report?.lastError ?? null,
      })),
    });
  });

  app.post("/api/backends", async (c) => {
    const body = await jsonBody(c.req.raw);
    if (!body.ok) return body.response;
    const parsed = RegisterBackendBody.safeParse(body.value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const param = issue && issue.path.length > 0 ? issue.path.join(".") : null;
      return errorResponse(
        400,
        `Invalid registration at ${param ?? "body"}: ${
          issue?.message ?? "invalid"
        }; send {url, model, ttl_seconds}`,
        {
          param,
          code: "invalid_registration",
        },
      );
    }
    const input = parsed.data;
    const id = input.id ?? backendIdFromUrl(input.url);
    const result = await registrations.register(input.model, {
      id,
      url: input.url,
      ttlMs: input.ttl_seconds * 1000,
    });
    return c.json({
      id: result.id,
      model: input.model,
      url: input.url,
      ttl_seconds: input.ttl_seconds,
      expires_at: result.expiresAtMs === undefined
        ? null
        : new Date(result.expiresAtMs).toISOString(),
      created: result.created,
    }, result.created ? 201 : 200);
  });

  app.post("/api/backends/:id/heartbeat", async (c) => {
    const id = c.req.param("id");
    const result = await registrations.heartbeat(id);
    if (!result) {
      return errorResponse(
        404,
        `No backend "${id}" is registered; POST /api/backends to register it`,
        { code: "backend_not_found" },
      );
    }
    return c.json({
      id: result.id,
      expires_at: result.expiresAtMs === undefined
        ? null
        : new Date(result.expiresAtMs).toISOString(),
    });
  });

  app.delete("/api/backends/:id", async (c) => {
    const id = c.req.param("id");
    if (!(await registrations.deregister(id))) {
      return errorResponse(404, `No backend "${id}" exists; GET /api/backends lists them`, {
        code: "backend_not_found",
      });
    }
    return c.json({ id, deleted: true });
  });

  app.get("/api/requests", async (c) => {
    const query = parseQuery(c.req.query(), RequestsQuery);
    if (!query.ok) return query.response;
    const { scope, limit, cursor } = query.value;
    const filter = filterOf(query.value);
    const before = cursor === undefined ? undefined : cursor.slice(1);
    let data: LoggedRecord[];
    let next: string | undefined;
    if (scope === "cluster") {
      const page = await log.page({
        limit,
        filter,
        ...(before === undefined ? {} : { before: BigInt(before) }),
      });
      data = page.records;
      next = page.next === undefined ? undefined : `c${page.next}`;
    } else {
      const page = records.page({
        limit,
        filter,
        ...(before === undefined ? {} : { before: Number(before) }),
      });
      data = page.records.map(local);
      next = page.next === undefined ? undefined : `l${page.next}`;
    }
    return c.json({
      object: "list",
      scope,
      data,
      has_more: next !== undefined,
      next_cursor: next ?? null,
    });
  });

  app.get("/api/stats", async (c) => {
    const query = parseQuery(c.req.query(), StatsQuery);
    if (!query.ok) return query.response;
    const { scope, limit, session } = query.value;
    const mine = (r: { sessionId: string | undefined }) =>
      session === undefined || r.sessionId === session;
    if (scope === "cluster") {
      const { records: all, total } = await log.snapshot();
      return c.json({
        scope,
        node: nodeId,
        summary: recordStats(all, total),
        nodes: countByNode(all),
        log: { dropped: log.dropped },
        models: fleet.models(),
        admission: services.admission?.stats() ?? {},
        recent: all.filter(mine).slice(0, limit),
      });
    }
    return c.json({
      scope,
      node: nodeId,
      summary: records.stats(),
      log: { dropped: log.dropped },
      models: fleet.models(),
      admission: services.admission?.stats() ?? {},
      recent: records.recent({ limit, ...(session === undefined ? {} : { sessionId: session }) })
        .map(local),
    });
  });

  return app;
}
