/** One model's routing table: an immutable snapshot of its backends that the RouterActor publishes and the hot path reads. */
import type { ActorRef } from "../runtime/mod.ts";
import type { BackendMessage, BackendReport, BackendSource, ScrapedLoad } from "../backend/mod.ts";
import type { BackendView } from "./strategies/mod.ts";

/** One backend the router supervises: its registration. */
export interface Member {
  id: string;
  /** Base URL without a trailing slash. */
  url: string;
  source: BackendSource;
  /** The address of its BackendActor (a fresh one per spawn). */
  address: string;
  /** Registrations only: dropped after this long without a heartbeat, in ms. */
  ttlMs: number | undefined;
  expiresAtMs: number | undefined;
}

/** A count the hot path moves, shared by every snapshot's view of one backend. */
export interface InFlightCount {
  value: number;
}

/** What ties the views of one backend across snapshots: its actor and its in-flight count. */
export interface BackendLink {
  /** Its BackendActor, told of every request that starts and ends on it. */
  readonly actor: ActorRef<BackendMessage>;
  /** Requests this gateway has in flight on it. */
  readonly inFlight: InFlightCount;
}

/**
 * The strategies' view of one backend in one snapshot. Immutable but for `inFlight`, which
 * reads and writes the backend's shared count: a request acquired on an old snapshot's view
 * is released on the count the current view shows.
 */
export class RoutedView implements BackendView {
  /** Its id. */
  readonly id: string;
  /** Its base URL. */
  readonly url: string;
  /** The time the strategies compare (see {@linkcode RoutingTable.streamed}). */
  readonly ewmaTtftMs: number | undefined;
  /** Its last scraped load. */
  readonly load: ScrapedLoad | undefined;
  /** Its actor and shared count. */
  readonly link: BackendLink;

  /** @param member its registration, @param report its last report, @param link its actor and count, @param streamed which time to compare */
  constructor(
    member: Member,
    report: BackendReport | undefined,
    link: BackendLink,
    streamed: boolean,
  ) {
    this.id = member.id;
    this.url = member.url;
    this.ewmaTtftMs = streamed ? report?.ewmaTtftMs : report?.ewmaLatencyMs;
    this.load = report?.metrics;
    this.link = link;
  }

  /** Requests in flight on it, shared by every snapshot. */
  get inFlight(): number {
    return this.link.inFlight.value;
  }

  set inFlight(value: number) {
    this.link.inFlight.value = value;
  }
}

/** The actor and count behind a view from a routing table; undefined for any other view. */
export function linkOf(view: BackendView): BackendLink | undefined {
  return view instanceof RoutedView ? view.link : undefined;
}

/** One backend in a table: its registration, its last report and its view. */
export interface RoutedBackend {
  readonly member: Member;
  /** The BackendActor's last report; undefined until it first reports. */
  readonly report: BackendReport | undefined;
  readonly view: RoutedView;
}

function byId(a: RoutedView, b: RoutedView): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * An immutable snapshot of one model's backends. `put` and `without` return a new table that
 * shares every unchanged backend's records, so a load report costs one view and two arrays.
 */
export class RoutingTable {
  /** The table with no backends. */
  static readonly EMPTY: RoutingTable = new RoutingTable(new Map(), false);

  /**
   * Whether the views compare streamed times to first token (some backend has one) or, for a
   * model served only non-streamed, whole-answer latencies. One kind of time is compared
   * across backends, never a mix: a whole answer's time passed off as a TTFT would make a
   * backend look slow beside streamed ones.
   */
  readonly streamed: boolean;
  /** The views of the backends that may take traffic now, sorted by id. */
  readonly eligible: readonly RoutedView[];
  readonly #backends: ReadonlyMap<string, RoutedBackend>;

  private constructor(backends: ReadonlyMap<string, RoutedBackend>, streamed: boolean) {
    this.#backends = backends;
    this.streamed = streamed;
    const eligible: RoutedView[] = [];
    for (const backend of backends.values()) {
      if (backend.report?.eligible) eligible.push(backend.view);
    }
    this.eligible = eligible.sort(byId);
  }

  /** How many backends it holds, eligible or not. */
  get size(): number {
    return this.#backends.size;
  }

  /** The backend `id`, if routed here. */
  get(id: string): RoutedBackend | undefined {
    return this.#backends.get(id);
  }

  /** Every backend, eligible or not. */
  list(): RoutedBackend[] {
    return [...this.#backends.values()];
  }

  /** This table with backend `member.id` added or replaced. */
  put(member: Member, report: BackendReport | undefined, link: BackendLink): RoutingTable {
    const next = new Map(this.#backends);
    next.set(member.id, {
      member,
      report,
      view: new RoutedView(member, report, link, this.streamed),
    });
    return RoutingTable.#of(next, this.streamed);
  }

  /** This table without backend `id`. */
  without(id: string): RoutingTable {
    if (!this.#backends.has(id)) return this;
    const next = new Map(this.#backends);
    next.delete(id);
    return RoutingTable.#of(next, this.streamed);
  }

  static #of(backends: Map<string, RoutedBackend>, wasStreamed: boolean): RoutingTable {
    let streamed = false;
    for (const backend of backends.values()) {
      if (backend.report?.ewmaTtftMs !== undefined) streamed = true;
    }
    if (streamed !== wasStreamed) {
      for (const [id, { member, report, view }] of backends) {
        backends.set(id, {
          member,
          report,
          view: new RoutedView(member, report, view.link, streamed),
        });
      }
    }
    return new RoutingTable(backends, streamed);
  }
}
