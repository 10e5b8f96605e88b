/** Prometheus metrics of the gateway: the registry, its per-request and scrape-time metrics, vLLM's buckets, and `GET /metrics`. */
export { GatewayMetrics, type GatewayMetricsOptions } from "./gateway_metrics.ts";
export { RequestMetrics, type RequestMetricsOptions, statusClass } from "./request_metrics.ts";
export {
  type FleetMetricsOptions,
  type FleetMetricsSources,
  registerFleetMetrics,
} from "./fleet_metrics.ts";
export {
  GATEWAY_OVERHEAD_BUCKETS_S,
  INTER_TOKEN_BUCKETS_S,
  REQUEST_LATENCY_BUCKETS_S,
  TTFT_BUCKETS_S,
} from "./buckets.ts";
export { metricsRoutes } from "./routes.ts";
