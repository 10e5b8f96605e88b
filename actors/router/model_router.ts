/** One model's routing table: the in-memory view of its backends that the hot path picks from synchronously. */
import type { BackendReport } from "../backend/backend_state.ts";
import type { BackendView, Picker, RequestFeatures } from "./strategies/types.ts";

/** One backend as the router holds it: the strategies' view plus the last report. */
export interface RoutedBackend {
  /** The view strategies score; `inFlight` is the router's own live count. */
  readonly view: BackendView;
  /** The backend actor's last report. */
  report: BackendReport;
}

/**
 * The router's state for one model. Load reports and register/retire change it (through the
 * RouterActor); `pick`, `acquire` and `release` are the synchronous hot-path calls.
 */
export class ModelRouter {
  /** The model it routes. */
  readonly model: string;
  #picker: Picker;
  #backends = new Map<string, RoutedBackend>();
  #eligible: BackendView[] = [];

  /** @param model the model name, @param picker the combined strategy */
  constructor(model: string, picker: Picker) {
    this.model = model;
    this.#picker = picker;
  }

  /** Adds or refreshes a backend from its actor's report. */
  report(report: BackendReport): void {
    const known = this.#backends.get(report.id);
    if (known) {
      const changed = known.report.eligible !== report.eligible;
      known.report = report;
      known.view.load = report.metrics;
      this.#refreshTimes();
      // Most reports only move the EWMAs or the load, which the views already show.
      if (!changed) return;
    } else {
      this.#backends.set(report.id, {
        view: {
          id: report.id,
          url: report.url,
          inFlight: 0,
          ewmaTtftMs: report.ewmaTtftMs,
          load: report.metrics,
        },
        report,
      });
      this.#refreshTimes();
    }
    this.#rebuild();
  }

  /**
   * Sets the time the strategies compare (`view.ewmaTtftMs`): the streamed time to first token
   * when any backend of the model has one, else, for a model served only non-streamed, the
   * whole-answer latency. One kind of time is compared across backends, never a mix: a whole
   * answer's time passed off as a TTFT would make a backend look slow beside streamed ones.
   */
  #refreshTimes(): void {
    let streamed = false;
    for (const backend of this.#backends.values()) {
      if (backend.report.ewmaTtftMs !== undefined) streamed = true;
    }
    for (const backend of this.#backends.values()) {
      backend.view.ewmaTtftMs = streamed ? backend.report.ewmaTtftMs : backend.report.ewmaLatencyMs;
    }
  }

  /** Drops a backend (retired or expired) and tells the strategies to forget it. */
  remove(id: string): boolean {
    const had = this.#backends.delete(id);
    if (had) {
      this.#picker.forget(id);
      this.#rebuild();
    }
    return had;
  }

  /** The backend `id`, if routed here. */
  get(id: string): RoutedBackend | undefined {
    return this.#backends.get(id);
  }

  /** Every backend, eligible or not. */
  list(): RoutedBackend[] {
    return [...this.#backends.values()];
  }

  /** How many backends may take traffic now. */
  get eligibleCount(): number {
    return this.#eligible.length;
  }

  /**
   * Picks the best eligible backend for `request`, skipping the ids in `exclude` (backends a
   * retry already failed on). Undefined when none is left.
   */
  pick(request: RequestFeatures, exclude?: ReadonlySet<string>): BackendView | undefined {
    let candidates = this.#eligible;
    if (exclude && exclude.size > 0) candidates = candidates.filter((v) => !exclude.has(v.id));
    if (candidates.length === 0) return undefined;
    return this.#picker.pick(request, candidates);
  }

  /** Counts a request sent to `view` (call right after `pick`). */
  acquire(view: BackendView): void {
    view.inFlight++;
  }

  /** Counts a request on `view` as finished. */
  release(view: BackendView): void {
    if (view.inFlight > 0) view.inFlight--;
  }

  #rebuild(): void {
    const eligible: BackendView[] = [];
    for (const backend of this.#backends.values()) {
      if (backend.report.eligible) eligible.push(backend.view);
    }
    eligible.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    this.#eligible = eligible;
  }
}
