/**
 * A Prometheus histogram fed whole streams' chunk gaps at once (a count per bucket): a prom-client
 * Histogram whose samples are this class's own totals, since prom-client's `observe` takes one
 * value per call, which would be one call per relayed token.
 */
import { Histogram, type HistogramConfiguration } from "prom-client";
import { CHUNK_GAP_BOUNDS_MS, type ChunkGaps } from "../../chunk_gaps.ts";
import { INTER_TOKEN_BUCKETS_S } from "./buckets.ts";
import { renderedHistogram } from "./cells.ts";

/** The buckets' upper bounds in seconds. */
const GAP_BOUNDS_S = CHUNK_GAP_BOUNDS_MS.map((ms) => ms / 1000);

/** One label set's running totals. */
interface Series<T extends string> {
  labels: Record<T, string>;
  counts: Float64Array;
  sumMs: number;
  count: number;
}

/** Options of {@linkcode GapHistogram}: prom-client's, without buckets (vLLM's inter-token ones). */
export type GapHistogramOptions<T extends string> = Omit<HistogramConfiguration<T>, "buckets">;

/** What prom-client's registry reads of a metric when it renders it. */
type Rendered<T extends string> = Awaited<ReturnType<Histogram<T>["get"]>>;

/** A histogram in seconds on vLLM's inter-token buckets, added to a stream's gaps at a time. */
export class GapHistogram<T extends string> extends Histogram<T> {
  readonly #name: string;
  readonly #help: string;
  readonly #names: readonly T[];
  readonly #series = new Map<string, Series<T>>();

  /** @param options its name, help, label names and registries */
  constructor(options: GapHistogramOptions<T>) {
    super({ ...options, buckets: [...INTER_TOKEN_BUCKETS_S] });
    this.#name = options.name;
    this.#help = options.help;
    this.#names = options.labelNames ?? [];
  }

  /** Adds one stream's gaps under `labels` (a value for every label name). */
  add(labels: Record<T, string>, gaps: ChunkGaps): void {
    const key = this.#names.map((n) => labels[n]).join("\u0000");
    let series = this.#series.get(key);
    if (series === undefined) {
      series = {
        labels: { ...labels },
        counts: new Float64Array(CHUNK_GAP_BOUNDS_MS.length + 1),
        sumMs: 0,
        count: 0,
      };
      this.#series.set(key, series);
    }
    for (let i = 0; i < gaps.counts.length; i++) series.counts[i]! += gaps.counts[i]!;
    series.sumMs += gaps.sumMs;
    series.count += gaps.count;
  }

  /** The samples: cumulative buckets with `le` in seconds, the sum in seconds, the count. */
  override get(): Promise<Rendered<T>> {
    return Promise.resolve(this.#rendered());
  }

  /** What the registry renders (prom-client asks a histogram for this rather than `get`). */
  getForPromString(): Promise<Rendered<T>> {
    return Promise.resolve(this.#rendered());
  }

  #rendered(): Rendered<T> {
    const series = [...this.#series.values()].map((s) => ({
      labels: s.labels,
      counts: s.counts,
      sum: s.sumMs / 1000,
      count: s.count,
    }));
    return renderedHistogram(this.#name, this.#help, GAP_BOUNDS_S, series) as Rendered<T>;
  }
}
