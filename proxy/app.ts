/** The gateway's Hono app: the OpenAI routes on the hot path, the operations routes, and OpenAI-shaped 404s and 500s. */
import { isStorageFailure, storageUnavailable } from "./storage_errors.ts";
import { Hono } from "hono";
import { adminRoutes, type AdminServices } from "./admin/routes.ts";
import { dashboardRoutes } from "./admin/dashboard.ts";
import { analysisRoutes } from "./admin/analysis_routes.ts";
import { routingRoutes, type RoutingServices } from "./admin/routing/mod.ts";
import { errorResponse } from "./errors.ts";
import { requestGuards } from "./guards/mod.ts";
import { type ForwardContext, forwardOpenAI } from "./openai/forward.ts";
import {
  ChatCompletionBody,
  CompletionBody,
  EmbeddingBody,
  isPlainChatBody,
} from "./openai/schemas.ts";
import type { SessionService } from "../actors/session/mod.ts";
import { sessionRoutes } from "./sessions/routes.ts";
import { plainRecorder } from "./sessions/plain.ts";
import { FIRST_READ_ALONE_MS, FIRST_READ_SHARED_MS, SessionHomes } from "./sessions/homes.ts";
import { responsesRoutes } from "./openai/responses/routes.ts";
import type { Authenticator } from "./auth/authenticator.ts";
import { authMiddleware } from "./auth/middleware.ts";
import { keyRoutes } from "./auth/routes.ts";
import { healthRoutes, type HealthServices } from "./admin/health.ts";
import { type GatewayMetrics, metricsRoutes } from "./admin/metrics/mod.ts";
import { jobsRoutes } from "./admin/jobs.ts";
import type { JobsController } from "../actors/job/types.ts";
import { errorField, logger } from "../actors/runtime/mod.ts";

/** Everything the app's routes use. */
export interface AppServices extends AdminServices {
  /** The hot path's dependencies. */
  forward: ForwardContext;
  /** Durable sessions. */
  sessions: SessionService;
  /** Checks credentials (`auth:`) and serves the key admin API; without it every route is open. */
  auth?: Authenticator;
  /** What `GET /metrics` renders; no such route without it. */
  metrics?: Pick<GatewayMetrics, "render" | "contentType">;
  /** Run-time routing and the SLO burn (`/api/routing`, `/api/slo`); no such routes without it. */
  routing?: RoutingServices;
  /** What `GET /health/detailed` reads; no such route without it. */
  health?: HealthServices;
  /** Aborted when the gateway closes: the dashboard's event streams end then. */
  closing?: AbortSignal;
  /** The job actors of launched replicas (`/api/jobs`); no such routes without it. */
  jobs?: JobsController;
}

/** Builds the gateway's Hono app. */
export function createApp(services: AppServices): Hono {
  const app = new Hono();
  // Before auth: a hostile head or body size is refused before any credential is looked at.
  app.use(requestGuards(services.forward.proxy, { deadlines: services.forward.deadlines }));
  // Off (`auth.enabled: false`, fixed at start), the middleware would only pass every request on.
  if (services.auth?.enabled) app.use(authMiddleware(services.auth));
  const context = services.forward;
  const sessions = services.sessions;
  // The session heads the recorder writes name the replica that served each call; the session
  // turns tell the map theirs too, so a plain call on a durable session follows its turns.
  const homes = sessions.config.record_plain_calls
    ? new SessionHomes(async (id) => (await sessions.store.get(id))?.head.backend, {
      firstReadMs: () => sessions.othersPresent ? FIRST_READ_SHARED_MS : FIRST_READ_ALONE_MS,
      alone: { since: () => sessions.aloneSince, scan: () => sessions.store.homes() },
    })
    : undefined;
  // One options object per route, made here once rather than per request.
  const chat = {
    endpoint: "/v1/chat/completions",
    context,
    schema: ChatCompletionBody,
    accepts: isPlainChatBody,
    ...(homes ? { observe: plainRecorder(sessions), homes } : {}),
  };
  const completions = { endpoint: "/v1/completions", context, schema: CompletionBody };
  const embeddings = { endpoint: "/v1/embeddings", context, schema: EmbeddingBody };
  app.post(chat.endpoint, (c) => forwardOpenAI(c.req.raw, chat));
  app.post(completions.endpoint, (c) => forwardOpenAI(c.req.raw, completions));
  app.post(embeddings.endpoint, (c) => forwardOpenAI(c.req.raw, embeddings));
  app.route("/", sessionRoutes({ forward: context, sessions, ...(homes ? { homes } : {}) }));
  app.route(
    "/",
    responsesRoutes({
      forward: context,
      sessions,
      models: () => services.fleet.models().map((m) => m.name),
      ...(homes ? { homes } : {}),
    }),
  );
  app.route("/", adminRoutes(services));
  // The web dashboard's feed reads the JSON routes through this app, with the viewer's credential.
  app.route(
    "/",
    dashboardRoutes({
      fetch: (request) => app.fetch(request),
      ...(services.closing ? { closing: services.closing } : {}),
    }),
  );
  app.route("/", analysisRoutes(services));
  if (services.routing) app.route("/", routingRoutes(services.routing));
  if (services.metrics) app.route("/", metricsRoutes(services.metrics));
  if (services.health) app.route("/", healthRoutes(services.health));
  if (services.jobs) app.route("/", jobsRoutes(services.jobs));
  if (services.auth) app.route("/", keyRoutes(services.auth));
  app.notFound((c) =>
    errorResponse(
      404,
      `No route ${c.req.method} ${c.req.path}; the API is under /v1 (OpenAI) and /api (operations)`,
      {
        code: "not_found",
      },
    )
  );
  app.onError((error) => {
    // A full or read-only disk under the KV file refuses writes: the gateway is fine, reads work.
    if (isStorageFailure(error)) return storageUnavailable();
    logger.error("unhandled gateway error", {
      error: errorField(error),
      stack: error instanceof Error ? error.stack : undefined,
    });
    return errorResponse(
      500,
      "The gateway failed on this request; retry, and report it if it persists",
      {
        code: "internal_error",
      },
    );
  });
  return app;
}
