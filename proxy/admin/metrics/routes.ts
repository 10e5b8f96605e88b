/** `GET /metrics`: the gateway's metrics in Prometheus text format. */
import { Hono } from "hono";
import type { GatewayMetrics } from "./gateway_metrics.ts";

/** The `/metrics` route (public, as `/health` is: it shows no secret and no per-client label). */
export function metricsRoutes(metrics: Pick<GatewayMetrics, "render" | "contentType">): Hono {
  const app = new Hono();
  app.get("/metrics", async () => {
    const text = await metrics.render();
    return new Response(text, { headers: { "content-type": metrics.contentType } });
  });
  return app;
}
