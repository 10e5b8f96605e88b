/** The hot path's handle on one model: synchronous picks from the routing table its RouterActor last published. */
import { type RoutedBackend, RoutingTable } from "./routing_table.ts";
import type {
  BackendView,
  CacheReport,
  Picker,
  PickNote,
  RequestFeatures,
} from "./strategies/mod.ts";

/** What admission control tells a router: which backends have room for a request, and when one frees a slot. */
export interface RouterLimits {
  /** Whether `view` may take `request` now (it is under its caps). */
  hasRoom(view: BackendView, request: RequestFeatures): boolean;
  /** Told once a request on `view` was counted as finished, so a waiting request can take its place. */
  released(view: BackendView): void;
}

/** Where a router's picks go to be shared with other gateway processes. */
export interface RouterPlacements {
  /** `request` (with prefix blocks) was just sent to `backendId`. */
  placed(backendId: string, request: RequestFeatures): void;
  /** `request`'s prefill is done: its first token came, or it ended. */
  prefilled(request: RequestFeatures): void;
}

/**
 * Routing for one model. The RouterActor is the only writer of its table and swaps in a new
 * one with `publish` when membership or a report changes; `pick`, `acquire` and `release` are
 * the synchronous hot-path calls, which alone drive the strategies' state.
 */
export class ModelRouter {
  /** The model it routes. */
  readonly model: string;
  #picker: Picker;
  #limits: RouterLimits | undefined;
  #table: RoutingTable = RoutingTable.EMPTY;
  /** The table the strategies last caught up with: backends that left it are forgotten on the next pick. */
  #picked: RoutingTable = RoutingTable.EMPTY;
  readonly #placements: RouterPlacements | undefined;

  /**
   * @param model the model name, @param picker the combined strategy, @param options
   * `placements`: told of each pick of a prompt with prefix blocks and of the end of its prefill,
   * to share them with other gateway processes
   */
  constructor(model: string, picker: Picker, options: { placements?: RouterPlacements } = {}) {
    this.model = model;
    this.#picker = picker;
    this.#placements = options.placements;
  }

  /** Makes `pick` consider only backends `limits` says have room, and tells it of every release. */
  limit(limits: RouterLimits | undefined): void {
    this.#limits = limits;
  }

  /** The table last published. */
  get table(): RoutingTable {
    return this.#table;
  }

  /** Swaps in the RouterActor's new table (its only writer); requests in flight keep their views. */
  publish(table: RoutingTable): void {
    this.#table = table;
  }

  /** The backend `id`, if routed here. */
  get(id: string): RoutedBackend | undefined {
    return this.#table.get(id);
  }

  /** Every backend, eligible or not. */
  list(): RoutedBackend[] {
    return this.#table.list();
  }

  /** How many backends may take traffic now. */
  get eligibleCount(): number {
    return this.#table.eligible.length;
  }

  /**
   * Picks the best eligible backend for `request` among those with room under the limits,
   * skipping the ids in `exclude` (backends a retry already failed on). Undefined when none is left.
   * Fills `note` in when given: the strategy and why (`fallback` on a retry).
   */
  pick(
    request: RequestFeatures,
    exclude?: ReadonlySet<string>,
    note?: PickNote,
  ): BackendView | undefined {
    const table = this.#table;
    if (table !== this.#picked) this.#forgetDeparted(table);
    if (note !== undefined) note.strategy = this.#picker.label ?? "";
    let candidates: readonly BackendView[] = table.eligible;
    if (exclude && exclude.size > 0) candidates = candidates.filter((v) => !exclude.has(v.id));
    const limits = this.#limits;
    // Most picks find room everywhere: then no array is made.
    if (limits && !candidates.every((v) => limits.hasRoom(v, request))) {
      candidates = candidates.filter((v) => limits.hasRoom(v, request));
    }
    if (candidates.length === 0) return undefined;
    const chosen = this.#picker.pick(request, candidates, note);
    if (note !== undefined && exclude !== undefined && exclude.size > 0) note.reason = "fallback";
    if (chosen !== undefined && this.#placements && request.prefixHashes.length > 0) {
      this.#placements.placed(chosen.id, request);
    }
    return chosen;
  }

  /**
   * Tells the strategies that another gateway process sent a prompt with prefix blocks `hashes`
   * to backend `backendId`, `pendingChars` of it uncached there; ignored for a backend not routed
   * here.
   */
  absorb(backendId: string, hashes: readonly number[], pendingChars: number): void {
    if (this.#table.get(backendId) === undefined) return;
    this.#picker.absorb?.(backendId, hashes, pendingChars);
  }

  /** Tells the strategies that another process's `pendingChars` of prefill on `backendId` are done. */
  absorbedPrefilled(backendId: string, pendingChars: number): void {
    this.#picker.absorbedPrefilled?.(backendId, pendingChars);
  }

  /** Counts a request sent to `view` (call right after `pick`). */
  acquire(view: BackendView): void {
    view.inFlight++;
  }

  /**
   * Counts a request on `view` as finished, and tells the strategies that `request` (when given)
   * has ended there. `_outcome` is the caller's account of the end, which an admission ticket
   * standing in for this router reads; the router itself does not.
   */
  release(view: BackendView, _outcome?: unknown, request?: RequestFeatures): void {
    if (view.inFlight > 0) view.inFlight--;
    if (request !== undefined) {
      this.#picker.prefilled?.(request, view.id);
      this.#placements?.prefilled(request);
    }
    this.#limits?.released(view);
  }

  /** Tells the strategies that `request`'s first token came from `view` (its prefill is done). */
  prefilled(view: BackendView, request: RequestFeatures): void {
    this.#picker.prefilled?.(request, view.id);
    this.#placements?.prefilled(request);
  }

  /**
   * Tells the strategies what backend `backendId` reported of `request`'s cached prefix once it
   * answered; the RouterActor calls it for a `cache_report` message, off the hot path.
   */
  learn(request: RequestFeatures, backendId: string, report: CacheReport): void {
    this.#picker.learn?.(request, backendId, report);
  }

  /** Tells the strategies to drop what they knew of backends gone from `table` or moved to another URL. */
  #forgetDeparted(table: RoutingTable): void {
    for (const before of this.#picked.list()) {
      if (table.get(before.member.id)?.member.url !== before.member.url) {
        this.#picker.forget(before.member.id);
      }
    }
    this.#picked = table;
  }
}
