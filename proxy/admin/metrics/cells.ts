/**
 * prom-client metrics whose series are plain cells found by their label values: a request adds to
 * a number in a Map, and the registry reads the totals only when `/metrics` is scraped. prom-client's
 * own `inc`/`observe` build, check and hash a labels object per call, which at thousands of
 * requests a second is a measurable share of the gateway's time.
 */
import {
  Counter,
  type CounterConfiguration,
  Histogram,
  type HistogramConfiguration,
} from "prom-client";

/** What prom-client's registry reads of a counter when it renders it. */
type RenderedCounter<T extends string> = Awaited<ReturnType<Counter<T>["get"]>>;
/** What prom-client's registry reads of a histogram when it renders it. */
type RenderedHistogram<T extends string> = Awaited<ReturnType<Histogram<T>["get"]>>;
/** One rendered sample. */
type Sample = { metricName?: string; labels: Record<string, string | number>; value: number };

/** One label set's total. */
interface CounterCell {
  labels: Record<string, string>;
  value: number;
}

/** One label set's bucket counts (not cumulative; the last is +Inf), sum and count. */
interface HistogramCell {
  labels: Record<string, string>;
  counts: Float64Array;
  sum: number;
  count: number;
}

/**
 * Cells found by their label values, one Map a label deep (no joined key to build and hash on
 * every call), and listed in the order they were made (the order `/metrics` shows them).
 */
class CellIndex<C> {
  #root = new Map<string | undefined, unknown>();
  /** Every cell, oldest first. */
  readonly cells: C[] = [];

  /** The cell of `values`, if one was added. */
  find(values: readonly string[]): C | undefined {
    let node = this.#root;
    const last = values.length - 1;
    for (let i = 0; i < last; i++) {
      const next = node.get(values[i]) as Map<string | undefined, unknown> | undefined;
      if (next === undefined) return undefined;
      node = next;
    }
    // No labels at all: the one cell sits under `undefined`.
    return node.get(values[last]) as C | undefined;
  }

  /** Adds `cell` as the one of `values` (not found before). */
  add(values: readonly string[], cell: C): void {
    let node = this.#root;
    const last = values.length - 1;
    for (let i = 0; i < last; i++) {
      let next = node.get(values[i]) as Map<string | undefined, unknown> | undefined;
      if (next === undefined) node.set(values[i], next = new Map());
      node = next;
    }
    node.set(values[last], cell);
    this.cells.push(cell);
  }

  /** Forgets every cell. */
  clear(): void {
    this.#root.clear();
    this.cells.length = 0;
  }
}

/** The labels object of `values` under `names`, in their order (the order `/metrics` shows). */
function labelsOf(names: readonly string[], values: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (let i = 0; i < names.length; i++) labels[names[i]!] = values[i]!;
  return labels;
}

/**
 * A counter fed by {@linkcode incAt}, with a value for every label name in `labelNames` order.
 * Only what {@linkcode incAt} added is rendered (prom-client's own `inc` is not).
 */
export class CellCounter<T extends string> extends Counter<T> {
  readonly #name: string;
  readonly #help: string;
  readonly #names: readonly string[];
  readonly #cells = new CellIndex<CounterCell>();

  /** @param options prom-client's: name, help, label names and registries */
  constructor(options: CounterConfiguration<T>) {
    super(options);
    this.#name = options.name;
    this.#help = options.help;
    this.#names = options.labelNames ?? [];
  }

  /** Adds `amount` to the series of label values `values` (in `labelNames` order). */
  incAt(values: readonly string[], amount = 1): void {
    const cell = this.#cells.find(values);
    if (cell !== undefined) cell.value += amount;
    else this.#cells.add(values, { labels: labelsOf(this.#names, values), value: amount });
  }

  /** Forgets every series (prom-client's registry calls it on `resetMetrics`). */
  override reset(): void {
    super.reset();
    // prom-client's constructor resets too, before this class's fields exist.
    if (#cells in this) this.#cells.clear();
  }

  /** The samples, one a series. */
  override get(): Promise<RenderedCounter<T>> {
    const values: Sample[] = [];
    for (const cell of this.#cells.cells) {
      values.push({ labels: cell.labels, value: cell.value });
    }
    // prom-client's typings name the type with a TypeScript-only enum; its registry reads the string.
    return Promise.resolve({
      name: this.#name,
      help: this.#help,
      type: "counter",
      aggregator: "sum",
      values,
    } as unknown as RenderedCounter<T>);
  }
}

/** Options of {@linkcode CellHistogram}: prom-client's, with the buckets required. */
export type CellHistogramOptions<T extends string> = HistogramConfiguration<T> & {
  buckets: readonly number[];
};

/**
 * A histogram fed by {@linkcode observeAt}, with a value for every label name in `labelNames`
 * order. Only what {@linkcode observeAt} observed is rendered (prom-client's own `observe` is not).
 */
export class CellHistogram<T extends string> extends Histogram<T> {
  readonly #name: string;
  readonly #help: string;
  readonly #names: readonly string[];
  readonly #bounds: readonly number[];
  readonly #cells = new CellIndex<HistogramCell>();

  /** @param options prom-client's: name, help, label names, buckets and registries */
  constructor(options: CellHistogramOptions<T>) {
    super({ ...options, buckets: [...options.buckets] });
    this.#name = options.name;
    this.#help = options.help;
    this.#names = options.labelNames ?? [];
    this.#bounds = [...options.buckets].sort((a, b) => a - b);
  }

  /** Observes `value` in the series of label values `values` (in `labelNames` order); not a finite number, it is skipped. */
  observeAt(values: readonly string[], value: number): void {
    if (!Number.isFinite(value)) return;
    let cell = this.#cells.find(values);
    if (cell === undefined) {
      cell = {
        labels: labelsOf(this.#names, values),
        counts: new Float64Array(this.#bounds.length + 1),
        sum: 0,
        count: 0,
      };
      this.#cells.add(values, cell);
    }
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    cell.counts[i]!++;
    cell.sum += value;
    cell.count++;
  }

  /** Forgets every series (prom-client's registry calls it on `resetMetrics`). */
  override reset(): void {
    super.reset();
    // prom-client's constructor resets too, before this class's fields exist.
    if (#cells in this) this.#cells.clear();
  }

  /** The samples: cumulative buckets with `le`, the sum, the count. */
  override get(): Promise<RenderedHistogram<T>> {
    return Promise.resolve(this.#rendered());
  }

  /** What the registry renders (prom-client asks a histogram for this rather than `get`). */
  getForPromString(): Promise<RenderedHistogram<T>> {
    return Promise.resolve(this.#rendered());
  }

  #rendered(): RenderedHistogram<T> {
    return renderedHistogram(
      this.#name,
      this.#help,
      this.#bounds,
      this.#cells.cells,
    ) as RenderedHistogram<T>;
  }
}

/** One label set of a histogram as {@linkcode renderedHistogram} reads it. */
export interface HistogramSeries {
  labels: Record<string, string | number>;
  /** Counts per bucket, not cumulative, one per bound and a last one for +Inf. */
  counts: ArrayLike<number>;
  sum: number;
  count: number;
}

/**
 * What prom-client's registry reads of a histogram (cumulative buckets with `le`, the sum, the
 * count of each series), built from plain counts at scrape time. prom-client's typings name the
 * type with a TypeScript-only enum; its registry reads the string, so the caller casts.
 */
export function renderedHistogram(
  name: string,
  help: string,
  bounds: readonly number[],
  series: Iterable<HistogramSeries>,
): unknown {
  const values: Sample[] = [];
  const bucket = `${name}_bucket`;
  for (const cell of series) {
    let cumulative = 0;
    for (let i = 0; i < bounds.length; i++) {
      cumulative += cell.counts[i]!;
      values.push({
        metricName: bucket,
        labels: { le: bounds[i]!, ...cell.labels },
        value: cumulative,
      });
    }
    values.push({ metricName: bucket, labels: { le: "+Inf", ...cell.labels }, value: cell.count });
    values.push({ metricName: `${name}_sum`, labels: cell.labels, value: cell.sum });
    values.push({ metricName: `${name}_count`, labels: cell.labels, value: cell.count });
  }
  return { name, help, type: "histogram", aggregator: "sum", values };
}
