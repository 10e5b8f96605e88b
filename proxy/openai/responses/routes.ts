/** The Responses and Conversations APIs on the gateway's durable sessions, as one Hono app to mount at the root. */
import { Hono } from "hono";
import type { ResponsesRouteServices } from "./_http.ts";
import { conversationRoutes } from "./conversations_routes.ts";
import { responsesApiRoutes } from "./responses_routes.ts";

export type { ResponsesRouteServices };

/** `/v1/responses` and `/v1/conversations`. */
export function responsesRoutes(services: ResponsesRouteServices): Hono {
  const app = new Hono();
  app.route("/", responsesApiRoutes(services));
  app.route("/", conversationRoutes(services));
  return app;
}
