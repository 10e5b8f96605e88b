/** The gateway's Prometheus registry (prom-client): per-request metrics from the records, state metrics at scrape time. */
import { Gauge, Registry } from "prom-client";
import type { RecordStore } from "../../records.ts";
import { TURNPIKE_VERSION } from "../version.ts";
import { type FleetMetricsSources, registerFleetMetrics } from "./fleet_metrics.ts";
import { RequestMetrics, type RequestMetricsOptions } from "./request_metrics.ts";

/** Options of {@linkcode GatewayMetrics}. */
export interface GatewayMetricsOptions extends RequestMetricsOptions, FleetMetricsSources {
  /** The records whose every addition is observed. */
  records: Pick<RecordStore, "subscribe">;
  /** When the gateway started, in ms since the epoch. */
  startedAtMs: number;
  /** Dead letters are listed from KV at most this often, in ms. @default 15000 */
  deadLetterEveryMs?: number;
  /** The job actors' jobs counted by phase, for `turnpike_jobs{state}`; no such gauge without it. */
  jobPhases?: () => Promise<Record<string, number>>;
}

/** Everything `GET /metrics` shows, in one registry of its own (never prom-client's global one). */
export class GatewayMetrics {
  /** The registry `/metrics` renders. */
  readonly registry: Registry = new Registry();
  readonly #unsubscribe: () => void;

  /** @param options the records to observe and the state to read at scrape time */
  constructor(options: GatewayMetricsOptions) {
    const requests = new RequestMetrics(this.registry, options);
    this.#unsubscribe = options.records.subscribe((record) => requests.observe(record));
    registerFleetMetrics(this.registry, options, {
      ...(options.deadLetterEveryMs === undefined
        ? {}
        : { deadLetterEveryMs: options.deadLetterEveryMs }),
    });
    const info = new Gauge({
      name: "turnpike_build_info",
      help: "Always 1; the gateway's version and routing strategy as labels",
      labelNames: ["version", "strategy"],
      registers: [this.registry],
    });
    info.set({ version: TURNPIKE_VERSION, strategy: options.strategy }, 1);
    const started = new Gauge({
      name: "turnpike_start_time_seconds",
      help: "When this gateway process started, in seconds since the epoch",
      registers: [this.registry],
    });
    started.set(options.startedAtMs / 1000);
    const jobPhases = options.jobPhases;
    if (jobPhases) {
      new Gauge({
        name: "turnpike_jobs",
        help: "Replica jobs (SLURM or local) by state: planned, submitted, pending, running, " +
          "healthy, draining, backoff, cancelling, cancelled, failed",
        labelNames: ["state"],
        registers: [this.registry],
        async collect() {
          this.reset();
          for (const [state, count] of Object.entries(await jobPhases())) {
            this.set({ state }, count);
          }
        },
      });
    }
    // prom-client's collectDefaultMetrics runs under Deno too, but starts an event-loop monitor
    // and a GC observer that nothing can stop; these two are read only when scraped.
    new Gauge({
      name: "turnpike_process_resident_memory_bytes",
      help: "Resident set size of this gateway process",
      registers: [this.registry],
      collect() {
        this.set(Deno.memoryUsage().rss);
      },
    });
    new Gauge({
      name: "turnpike_process_heap_used_bytes",
      help: "V8 heap in use by this gateway process",
      registers: [this.registry],
      collect() {
        this.set(Deno.memoryUsage().heapUsed);
      },
    });
  }

  /** The Prometheus text exposition of every metric. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  /** The content type of {@linkcode render}'s text. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Stops observing the records. */
  close(): void {
    this.#unsubscribe();
  }
}
