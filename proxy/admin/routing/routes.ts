/** `GET /api/routing`, `POST /api/routing` and `GET /api/slo`: the run-time routing and the SLO burn, for operators and the dashboards. */
import { Hono } from "hono";
import { errorResponse } from "../../errors.ts";
import { firstIssue, jsonBody } from "../../json_body.ts";
import { RoutingChangeBody } from "../analysis_schemas.ts";
import type { RoutingResponse, SloResponse } from "../api_types.ts";
import type { SloTracker } from "../slo/mod.ts";
import type { RoutingController } from "./controller.ts";

/** What the routes read and change. */
export interface RoutingServices {
  routing: Pick<RoutingController, "state" | "change">;
  slo: Pick<SloTracker, "status">;
}

/** The routing and SLO routes (admin routes once auth is on, as every `/api/` route). */
export function routingRoutes(services: RoutingServices): Hono {
  const app = new Hono();

  app.get("/api/slo", (c) => {
    const body: SloResponse = services.slo.status();
    return c.json(body);
  });

  app.get("/api/routing", (c) => {
    const body: RoutingResponse = services.routing.state();
    return c.json(body);
  });

  app.post("/api/routing", async (c) => {
    const body = await jsonBody(c.req.raw);
    if (!body.ok) return body.response;
    const parsed = RoutingChangeBody.safeParse(body.value);
    if (!parsed.success) {
      const { param, message, unknown } = firstIssue(parsed.error);
      return errorResponse(
        400,
        unknown
          ? `Unknown field "${param}"; send {strategy, model?, canary_share?, canary_window?}`
          : `Invalid routing change at ${param ?? "body"}: ${message}`,
        { param, code: "invalid_routing_change" },
      );
    }
    const result = services.routing.change(parsed.data);
    if (!result.ok) {
      const { status, message, param, code } = result.refusal;
      return errorResponse(status, message, { param, code });
    }
    const answer: RoutingResponse = services.routing.state(result.models);
    return c.json(answer);
  });

  return app;
}
