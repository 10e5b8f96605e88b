/** Operations routes: `/health`, `GET /v1/models`, the backend registration API and `/api/stats`. */
import { Hono } from "hono";
import { backendIdFromUrl, type Fleet } from "../../actors/router/mod.ts";
import { errorResponse } from "../errors.ts";
import { jsonBody } from "../json_body.ts";
import type { RecordStore } from "../records.ts";
import { RegisterBackendBody } from "./schemas.ts";

/** What the operations routes read. */
export interface AdminServices {
  fleet: Fleet;
  records: RecordStore;
  /** When the gateway started, in ms since the epoch. */
  startedAtMs: number;
}

/** The operations routes, mounted at the root of the gateway's app. */
export function adminRoutes(services: AdminServices): Hono {
  const { fleet, records } = services;
  const app = new Hono();

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
    return c.json({
      object: "list",
      data: fleet.models().map((m) => ({
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
    const result = await fleet.addBackend(input.model, {
      id,
      url: input.url,
      source: "registered",
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
    const result = await fleet.heartbeat(id);
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
    if (!(await fleet.removeBackend(id))) {
      return errorResponse(404, `No backend "${id}" exists; GET /api/backends lists them`, {
        code: "backend_not_found",
      });
    }
    return c.json({ id, deleted: true });
  });

  app.get("/api/stats", (c) => {
    const limitText = c.req.query("limit");
    const limit = limitText === undefined ? 100 : Number(limitText);
    if (!Number.isInteger(limit) || limit < 0) {
      return errorResponse(400, "Query limit must be a non-negative integer", { param: "limit" });
    }
    const session = c.req.query("session");
    return c.json({
      summary: records.stats(),
      models: fleet.models(),
      recent: records.recent({ limit, ...(session === undefined ? {} : { sessionId: session }) }),
    });
  });

  return app;
}
