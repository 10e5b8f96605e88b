/**
 * `bench routing --virtual`: replays a trace through the router's real strategy code (the picker
 * `proxy.strategy` builds, fed the request features the gateway computes) and the simulator's
 * engine model, on a virtual clock: an event queue, no HTTP and no wall time, so fleets far larger
 * than this machine can serve are measured.
 *
 * The fleet around the strategies is modelled as the gateway runs it: each replica's `/metrics`
 * is "scraped" every 2 s of trace time (running, waiting, KV usage), the gateway's own in-flight
 * count and TTFT EWMA move with every request, and with `prefix_feedback` the replica's reported
 * cached tokens go back to the strategies once the answer ends. Every request goes at once to the
 * replica its strategy chose, as `bench routing`'s gateways forward it; with `gatewayQueue` each
 * gateway's router runs under the admission gate with fixed caps instead (a replica's scraped KV
 * capacity, 256 in flight), a request that finds no room waiting in the gateway's queue.
 *
 * Arrival rate scales with the fleet: for R replicas the trace is overlaid ceil(R/4) times (copy
 * k's hash ids and conversations made disjoint from the others', its timestamps shifted by
 * k/ceil(R/4) of the mean gap between requests), so every copy keeps the trace's own turn gaps
 * and prompt lengths and the offered load per replica stays what 4 replicas get from one copy.
 */
import { DEFAULT_LOAD_BOUND } from "../../config/mod.ts";
import {
  AdmissionGate,
  AdmissionTicket,
  AttainedService,
  requestTokens,
} from "../../actors/admission/mod.ts";
import type { ActorRef } from "../../actors/runtime/mod.ts";
import type { BackendMessage } from "../../actors/backend/mod.ts";
import {
  type BackendView,
  type CacheReport,
  createPicker,
  ModelRouter,
  needsPromptText,
  type Picker,
  type RequestFeatures,
  requestFeatures,
  RoutingTable,
  strategyOptions,
  uncachedChars,
} from "../../actors/router/mod.ts";
import {
  type Clock,
  type ClockTimer,
  Engine,
  kvTokensInGib,
  mulberry32,
  promptText,
  summarize,
  type Summary,
  traceBlockHashes,
  type TraceRequest,
} from "../../sim/mod.ts";
import { BLOCK_TOKENS, CHARS_PER_TOKEN, chatTemplateChars } from "./replay.ts";
import { replicaCacheTokens } from "./setup.ts";
import { imbalance } from "./stats.ts";
import { reusableTokens } from "./estimate.ts";
import { conversations } from "./trace.ts";
import type { RunStrategy } from "./run.ts";
import { BASELINE, strategyLabel } from "./run.ts";

interface Timer {
  atMs: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/** A virtual clock on a binary heap of timers: O(log n) per event, for fleets of hundreds of engines. */
export class EventQueueClock implements Clock {
  readonly realMsPerSimMs = 0;
  #now = 0;
  #seq = 0;
  readonly #heap: Timer[] = [];

  /** Current virtual time in ms. */
  now(): number {
    return this.#now;
  }

  /** Runs `fn` at virtual time `atMs` (now, if that has passed), after every earlier timer. */
  at(atMs: number, fn: () => void): ClockTimer {
    const timer: Timer = {
      atMs: Math.max(atMs, this.#now),
      seq: this.#seq++,
      fn,
      cancelled: false,
    };
    this.#push(timer);
    return { cancel: () => void (timer.cancelled = true) };
  }

  /** Fires timers in time order until none is left or the next is past `untilMs`; returns the time. */
  run(untilMs = Infinity): number {
    for (;;) {
      const top = this.#heap[0];
      if (top === undefined || top.atMs > untilMs) return this.#now;
      this.#pop();
      if (top.cancelled) continue;
      this.#now = top.atMs;
      top.fn();
    }
  }

  #less(a: Timer, b: Timer): boolean {
    return a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq);
  }

  #push(t: Timer): void {
    const h = this.#heap;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  #pop(): void {
    const h = this.#heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.#less(h[l]!, h[m]!)) m = l;
      if (r < h.length && this.#less(h[r]!, h[m]!)) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}

/** Copies of the trace overlaid for `replicas` replicas: ceil(replicas / 4), at least one. */
export function traceCopies(replicas: number): number {
  return Math.max(1, Math.ceil(replicas / 4));
}

/**
 * Trace ms after which another gateway's router has taken in a placement or the end of its
 * prefill: two of `proxy.placement_share_interval`'s 25 ms (the write's wait, then the reader's)
 * at the bench's time scale of 10, the slowest case.
 */
export const PLACEMENT_SHARE_MS = 500;

/** Options of {@linkcode virtualRun}. */
export interface VirtualOptions {
  replicas: number;
  /** GPU KV tokens per replica; the simulator's default when undefined. */
  kvTokens?: number | undefined;
  /**
   * GPU KV tokens of each replica (a heterogeneous fleet), one entry per replica; the router's
   * estimate stays sized by `kvTokens`, as a config that does not describe the fleet.
   */
  kvTokensList?: readonly number[] | undefined;
  /** GiB of host KV tier per replica; 0 for none. */
  kvOffloadGib?: number | undefined;
  /** `proxy.prefix_feedback`. @default true */
  prefixFeedback?: boolean;
  /**
   * Gateways, each with its own picker and in-flight counts, request i going to gateway i mod n.
   * Each routes a session's call with its home as the gateway's SessionHomes give it: the replica
   * that gateway last sent the session to, or else the one the session's head in KV names (shared,
   * written once an answer ends); every call then refreshes the gateway's own entry from KV for the
   * next one. The gateways share their placements as `proxy.share_placements` does (see
   * `placementShareMs`). @default 1
   */
  gateways?: number;
  /**
   * With several gateways, trace ms after a pick (and after the end of its prefill) at which the
   * other gateways' routers take it in (`proxy.share_placements`), or false for none.
   * @default {@linkcode PLACEMENT_SHARE_MS}
   */
  placementShareMs?: number | false;
  /**
   * Whether each gateway's router runs under the admission gate with fixed caps (a replica's KV
   * capacity, `admission.max_in_flight_per_replica`'s 256), requests that find no room waiting in
   * the gateway's queue (`admission.adaptive: false`); by default every request goes at once, as
   * `bench routing`'s gateways and the peers' own routers forward it. @default false
   */
  gatewayQueue?: boolean;
  /** Seeds the baseline's random picks. @default 1 */
  seed?: number;
  /**
   * With the baseline strategy, perfect per-conversation affinity instead of random picks: each
   * conversation stays on the replica that had served the fewest requests when it began, as
   * {@linkcode cappedHitRate} pins them, whatever the load. @default false
   */
  pinConversations?: boolean;
  /** Longest prompt plus output accepted (longer requests count as failed). */
  maxModelLen: number;
}

/** The figures of one strategy's virtual run. */
export interface VirtualRun {
  strategy: string;
  replicas: number;
  /** Copies of the trace overlaid (the arrival rate's factor over one copy). */
  traceCopies: number;
  requests: number;
  failed: number;
  /** TTFT in ms of trace time (divide by the time scale for the wall-clock replay's replica TTFT). */
  ttftMs: Summary;
  /** Prompt tokens served from the prefix cache (GPU and host tier), 0 to 1. */
  hitRate: number;
  /**
   * Mean time a request waited in its replica's queue, in ms of trace time (the wall-clock
   * replay's `replicaView.queueMeanMs` times the time scale).
   */
  queueMeanMs: number;
  /** Max over mean of the requests per replica. */
  requestImbalance: number;
  /** Max over mean of the busy time (sum of end-to-end times) per replica. */
  busyImbalance: number;
  /** The router's CPU per decision (`pick`, all strategies), microseconds. */
  decisionUs: Summary;
  /** Microseconds per request to compute its features (the prompt's block hashes). */
  featuresUsMean: number;
  /** The router's estimate of the cached tokens against the engines' reports. */
  estimateMaeTokens: number;
  /** Requests that waited in a gateway's queue for a slot (only with `gatewayQueue`). */
  gatewayWaits: number;
  /** Trace ms covered, and the real seconds the run took. */
  simulatedMs: number;
  realS: number;
}

/** A request of an overlaid trace, with the session header the replay would send. */
export interface VirtualRequest extends TraceRequest {
  session: string;
}

/**
 * The trace overlaid `copies` times with disjoint hash ids, sessions and shifted timestamps,
 * sorted by time; each request carries its conversation's session id (as the replay's header).
 */
export function overlaidTrace(trace: readonly TraceRequest[], copies: number): VirtualRequest[] {
  const sessions = conversations(trace);
  let maxId = 0;
  for (const r of trace) for (const id of r.hash_ids) if (id > maxId) maxId = id;
  const span = trace.length > 1 ? trace.at(-1)!.timestamp - trace[0]!.timestamp : 0;
  const gap = trace.length > 1 ? span / (trace.length - 1) : 0;
  const out: VirtualRequest[] = [];
  for (let k = 0; k < Math.max(1, copies); k++) {
    const shift = (k / copies) * gap;
    const offset = k * (maxId + 1);
    trace.forEach((r, i) => {
      out.push({
        ...r,
        timestamp: r.timestamp + shift,
        hash_ids: k === 0 ? r.hash_ids : r.hash_ids.map((id) => id + offset),
        // Copy 0 carries the wall-clock replay's own header values.
        session: k === 0 ? `conversation-${sessions[i]}` : `conversation-${k}-${sessions[i]}`,
      });
    });
  }
  return out.sort((a, b) => a.timestamp - b.timestamp);
}

/** A replica as the virtual gateways see it: its engine and each gateway's view of it. */
interface VirtualReplica {
  engine: Engine;
  views: BackendView[];
  requests: number;
  busyMs: number;
}

const SCRAPE_MS = 2_000;
const EWMA_ALPHA = 0.3;
/** The bench gateways' caps: `admission.max_in_flight_per_replica` and the output estimate. */
const BENCH_CAPACITY = { maxInFlight: 256, kvFraction: 1, outputTokensEstimate: 256 };

const noActor: ActorRef<BackendMessage> = {
  address: "backend/m/virtual",
  tell: () => {},
  ask: () => Promise.reject(new Error("a virtual replica has no actor")),
};

/**
 * One virtual gateway's router under its admission gate: the routing table is published anew
 * at every scrape (the replicas' load, the gateway's TTFT EWMA), as the BackendActors' reports
 * do; in-flight counts are shared by every snapshot.
 */
class GatedRouter {
  readonly router: ModelRouter;
  readonly gate: AdmissionGate;
  readonly attained: AttainedService;
  readonly #links: { actor: ActorRef<BackendMessage>; inFlight: { value: number } }[];

  constructor(replicas: number, picker: Picker, now: () => number) {
    this.router = new ModelRouter("m", picker);
    this.gate = new AdmissionGate(this.router, {
      capacity: BENCH_CAPACITY,
      maxQueue: Number.MAX_SAFE_INTEGER,
      weights: { high: 8, medium: 4, low: 1 },
      shedEarly: false,
      // Nothing joins or times out in a replay: the sweep has nothing to do.
      sweepMs: 2 ** 31 - 1,
      now,
    });
    this.attained = new AttainedService({ now });
    this.#links = Array.from({ length: replicas }, () => ({
      actor: noActor,
      inFlight: { value: 0 },
    }));
  }

  /** Publishes each replica's load and TTFT EWMA (`loads[i]` of `replica-i`). */
  publish(loads: readonly { load: BackendView["load"]; ewmaTtftMs: number | undefined }[]) {
    let table = RoutingTable.EMPTY;
    loads.forEach(({ load, ewmaTtftMs }, i) => {
      const id = `replica-${i}`;
      table = table.put(
        {
          id,
          url: `virtual://${id}`,
          source: "static",
          address: `backend/m/${id}`,
          ttlMs: undefined,
          expiresAtMs: undefined,
        },
        {
          id,
          model: "m",
          url: `virtual://${id}`,
          source: "static",
          eligible: true,
          healthy: true,
          circuit: "closed",
          ewmaTtftMs,
          ewmaLatencyMs: undefined,
          metrics: load === undefined ? undefined : { ...load, prefixQueries: 0, prefixHits: 0 },
          inFlight: this.#links[i]!.inFlight.value,
          completed: 0,
          failed: 0,
          lastError: undefined,
        },
        this.#links[i]!,
      );
    });
    this.router.publish(table);
  }

  close(): void {
    this.gate.close();
  }
}

/** Replays `trace` with `strategy` on `options.replicas` engines on a virtual clock. */
export function virtualRun(
  trace: readonly TraceRequest[],
  strategy: RunStrategy,
  options: VirtualOptions,
): VirtualRun {
  const realStart = performance.now();
  const clock = new EventQueueClock();
  const copies = traceCopies(options.replicas);
  const requests = overlaidTrace(trace, copies);
  const gib = options.kvOffloadGib ?? 0;
  const gatewayCount = Math.max(1, options.gateways ?? 1);
  const engineOptions = {
    ...(options.kvTokens === undefined ? {} : { kvTokens: options.kvTokens }),
    ...(gib > 0 ? { offloadTokens: kvTokensInGib(gib) } : {}),
  };
  const replicas: VirtualReplica[] = Array.from({ length: options.replicas }, (_, i) => ({
    engine: new Engine(clock, {
      ...engineOptions,
      ...(options.kvTokensList?.[i] === undefined ? {} : { kvTokens: options.kvTokensList[i] }),
    }),
    views: Array.from({ length: gatewayCount }, () => ({
      id: `replica-${i}`,
      url: `virtual://replica-${i}`,
      inFlight: 0,
      ewmaTtftMs: undefined,
      load: undefined,
    })),
    requests: 0,
    busyMs: 0,
  }));
  const proxy = {
    load_bound: DEFAULT_LOAD_BOUND,
    prefix_block_chars: BLOCK_TOKENS * CHARS_PER_TOKEN,
    prefix_cache_tokens: replicaCacheTokens(options.kvTokens, gib),
  };
  const pickers = strategy === BASELINE ? [] : Array.from(
    { length: gatewayCount },
    () => createPicker(strategy, strategyOptions(proxy, { now: () => clock.now() })),
  );
  const gated = options.gatewayQueue !== true
    ? []
    : pickers.map((picker) => new GatedRouter(replicas.length, picker, () => clock.now()));
  /** Each session's last replica, as the session heads in KV say once an answer has ended. */
  const homes = new Map<string, string>();
  /** Each gateway's SessionHomes: the replica it last sent each session to, or KV's as last read. */
  const localHomes = Array.from({ length: gatewayCount }, () => new Map<string, string>());
  const random = mulberry32(options.seed ?? 1);
  /** Each conversation's replica under `pinConversations`. */
  const pins = new Map<string, VirtualReplica>();
  const pinned = (session: string): VirtualReplica => {
    let replica = pins.get(session);
    if (replica === undefined) {
      replica = replicas.reduce((a, b) => (b.requests < a.requests ? b : a));
      pins.set(session, replica);
    }
    return replica;
  };
  const feedback = options.prefixFeedback ?? true;
  const shareMs = gatewayCount > 1 ? options.placementShareMs ?? PLACEMENT_SHARE_MS : false;
  // As the gateway does: the prompt's text rides along only for the strategies that read it.
  const withText = strategy !== BASELINE && needsPromptText(strategy);
  const textOptions = {
    blockChars: BLOCK_TOKENS * CHARS_PER_TOKEN,
    charsPerToken: CHARS_PER_TOKEN,
    templateChars: chatTemplateChars(),
  };
  const scrape = () => {
    for (const r of replicas) {
      const e = r.engine;
      const load = {
        running: e.numRunning,
        waiting: e.numWaiting + e.numLoading,
        kvUsage: e.kv.usage,
        kvCapacityTokens: e.kv.totalBlocks * BLOCK_TOKENS,
        scrapedAtMs: clock.now(),
      };
      for (const view of r.views) view.load = load;
    }
    gated.forEach((gateway, g) => {
      gateway.publish(replicas.map((r) => ({
        load: r.views[g]!.load,
        ewmaTtftMs: r.views[g]!.ewmaTtftMs,
      })));
    });
  };
  const ttfts: number[] = [];
  const decisions: number[] = [];
  let featuresUs = 0;
  let failed = 0;
  let finished = 0;
  let estimateSum = 0;
  let estimateCount = 0;
  let gatewayWaits = 0;
  let scraping: ClockTimer | undefined;
  const scrapeLoop = () => {
    scrape();
    scraping = finished + failed < requests.length
      ? clock.at(clock.now() + SCRAPE_MS, scrapeLoop)
      : undefined;
  };
  scrapeLoop();

  const arrive = (index: number) => {
    const r = requests[index]!;
    const body = { model: "m", messages: [{ role: "user", content: promptText(r, textOptions) }] };
    const t0 = performance.now();
    const features: RequestFeatures = requestFeatures(body, {
      sessionId: r.session,
      blockChars: proxy.prefix_block_chars,
      ...(withText ? { promptText: true } : {}),
    });
    const t1 = performance.now();
    featuresUs += (t1 - t0) * 1000;
    const g = index % gatewayCount;
    const picker = pickers[g];
    const gateway = gated[g];
    const local = localHomes[g]!;
    const stored = homes.get(r.session);
    const home = local.get(r.session) ?? stored;
    if (home !== undefined) features.homeBackend = home;
    // The call's background read of the session's head lands before the session's next call.
    if (stored !== undefined) local.set(r.session, stored);
    const arrival = clock.now();
    if (picker === undefined) {
      const chosen = options.pinConversations === true
        ? pinned(r.session)
        : replicas[Math.floor(random() * replicas.length)]!;
      const view = chosen.views[g]!;
      view.inFlight++;
      send(index, features, arrival, chosen, view, undefined);
      return;
    }
    if (gateway === undefined) {
      const views = replicas.map((x) => x.views[g]!);
      const t2 = performance.now();
      const view = picker.pick(features, views)!;
      decisions.push((performance.now() - t2) * 1000);
      view.inFlight++;
      send(index, features, arrival, replicas[views.indexOf(view)]!, view, { picker });
      return;
    }
    features.kvTokens = requestTokens(features, r.output_length, BENCH_CAPACITY);
    const ticket = new AdmissionTicket(gateway.gate, gateway.router, {
      tokens: features.kvTokens,
      serviceKey: r.session,
      attained: gateway.attained,
      now: () => clock.now(),
    });
    const start = (backend: BackendView) => {
      const chosen = replicas[Number(backend.id.slice("replica-".length))]!;
      send(index, features, arrival, chosen, chosen.views[g]!, {
        picker,
        gateway,
        ticket,
        backend,
      });
    };
    const t2 = performance.now();
    const backend = ticket.pick(features);
    decisions.push((performance.now() - t2) * 1000);
    if (backend !== undefined) {
      ticket.acquire(backend);
      start(backend);
      return;
    }
    const waited = gateway.gate.wait({
      features,
      exclude: new Set(),
      priority: "medium",
      rank: gateway.attained.of(r.session),
      arrivedAt: arrival,
      deadlineAt: Infinity,
      signal: new AbortController().signal,
      // Handed a slot as another request ends: counted there at once, sent in the next event at
      // this same instant (not inside the engine's callback that freed the slot).
      reserve: (slot) => {
        ticket.reserve(slot);
        clock.at(clock.now(), () => start(slot));
      },
    });
    if (waited instanceof Promise) gatewayWaits++;
    else if (waited.kind !== "admitted") failed++;
  };

  /**
   * Sends request `index` to `chosen`, whose view of this gateway is `view`, and counts what it
   * reports; `via` is its router: the picker alone, or the gated router, its ticket and backend.
   */
  const send = (
    index: number,
    features: RequestFeatures,
    arrival: number,
    chosen: VirtualReplica,
    view: BackendView,
    via:
      | { picker: Picker; gateway?: undefined }
      | {
        picker: Picker;
        gateway: GatedRouter;
        ticket: AdmissionTicket;
        backend: BackendView;
      }
      | undefined,
  ) => {
    const r = requests[index]!;
    // The other gateways take in the placement, and later the end of its prefill, shareMs late.
    const hashes = features.prefixHashes;
    const shared = via !== undefined && shareMs !== false && hashes.length > 0;
    const uncached = uncachedChars(features, proxy.prefix_block_chars);
    const tellOthers = (tell: (other: Picker) => void) => {
      if (!shared) return;
      for (const other of pickers) {
        if (other !== via.picker) clock.at(clock.now() + (shareMs as number), () => tell(other));
      }
    };
    tellOthers((other) => other.absorb?.(view.id, hashes, uncached));
    let prefillShared = !shared || uncached === 0;
    const sharePrefilled = () => {
      if (prefillShared) return;
      prefillShared = true;
      tellOthers((other) => other.absorbedPrefilled?.(view.id, uncached));
    };
    const ended = () => {
      sharePrefilled();
      if (via?.gateway !== undefined) via.ticket.release(via.backend, undefined, features);
      else {
        view.inFlight--;
        via?.picker.prefilled?.(features, view.id);
      }
    };
    if (r.input_length + r.output_length > options.maxModelLen) {
      // Past the model's length: the replica refuses it (the replay counts it as failed).
      failed++;
      ended();
      return;
    }
    chosen.requests++;
    // The replay streams: the answer's head, which names the replica, comes back at once.
    localHomes[index % gatewayCount]!.set(r.session, view.id);
    try {
      chosen.engine.submit({
        id: `r${index}`,
        promptTokens: r.input_length,
        blockHashes: traceBlockHashes(r),
        maxTokens: r.output_length,
      }, {
        onToken: (i, atMs) => {
          if (i !== 0) return;
          sharePrefilled();
          via?.picker.prefilled?.(features, view.id);
          const ttft = atMs - arrival;
          ttfts.push(ttft);
          const before = view.ewmaTtftMs;
          view.ewmaTtftMs = before === undefined ? ttft : before + EWMA_ALPHA * (ttft - before);
        },
        onFinish: (result) => {
          finished++;
          homes.set(r.session, view.id);
          chosen.busyMs += result.finishMs - arrival;
          if (features.predictedPrefixBlocks !== undefined) {
            const predicted = Math.min(
              (features.predictedPrefixBlocks * proxy.prefix_block_chars) / CHARS_PER_TOKEN,
              reusableTokens(result.promptTokens),
            );
            estimateSum += Math.abs(predicted - result.cachedTokens);
            estimateCount++;
          }
          if (feedback && via?.picker.learn) {
            const report: CacheReport = {
              promptTokens: result.promptTokens,
              cachedTokens: result.cachedTokens,
            };
            via.picker.learn(features, view.id, report);
          }
          ended();
        },
      });
    } catch {
      // Longer than the replica's whole KV budget: vLLM refuses it.
      failed++;
      ended();
    }
  };
  for (let i = 0; i < requests.length; i++) clock.at(requests[i]!.timestamp, () => arrive(i));
  const simulatedMs = clock.run();
  scraping?.cancel();
  let queries = 0;
  let hits = 0;
  let queuedS = 0;
  let queued = 0;
  for (const r of replicas) {
    queries += r.engine.kv.stats.queries;
    hits += r.engine.kv.stats.hits + r.engine.kv.stats.externalHits;
    queuedS += r.engine.metrics.queue.sum;
    queued += r.engine.metrics.queue.count;
    r.engine.close();
  }
  for (const gateway of gated) gateway.close();
  return {
    strategy:
      (options.pinConversations === true && strategy === BASELINE
        ? "affinity"
        : strategyLabel(strategy)) +
      (feedback ? "" : " open-loop") +
      (gatewayCount > 1 ? ` x${gatewayCount} gateways` : ""),
    replicas: options.replicas,
    traceCopies: copies,
    requests: requests.length,
    failed,
    ttftMs: summarize(ttfts),
    hitRate: queries === 0 ? 0 : hits / queries,
    queueMeanMs: queued === 0 ? 0 : (queuedS / queued) * 1000,
    requestImbalance: imbalance(replicas.map((r) => r.requests)),
    busyImbalance: imbalance(replicas.map((r) => r.busyMs)),
    decisionUs: summarize(decisions),
    featuresUsMean: featuresUs / Math.max(1, requests.length),
    estimateMaeTokens: estimateCount === 0 ? NaN : estimateSum / estimateCount,
    gatewayWaits,
    simulatedMs,
    realS: (performance.now() - realStart) / 1000,
  };
}
