/** One request's pass through admission: the router calls it makes, with its KV tokens counted and its session charged for the time it held a slot. */
import type { RequestOutcome } from "../backend/mod.ts";
import type { BackendView, ModelRouter, PickNote, RequestFeatures } from "../router/mod.ts";
import type { AttainedService } from "./attained.ts";
import type { AdmissionGate } from "./gate.ts";
import { workTokens } from "./limiter.ts";

/** Options of {@linkcode AdmissionTicket}. */
export interface AdmissionTicketOptions {
  /** The KV tokens the request is expected to hold. */
  tokens: number;
  /** Its prompt's estimated tokens, which its latency is measured against. @default 0 */
  promptTokens?: number;
  /** The tokens its answer generated, once it ended (a whole answer's latency includes them). */
  generatedTokens?: () => number | undefined;
  /** Whom its service is charged to (its session, else its client); undefined charges no one. */
  serviceKey: string | undefined;
  /** Where attained service is kept. */
  attained: AttainedService;
  /** Clock in ms. @default performance.now */
  now?: () => number;
}

/**
 * The hot path's router for one request under admission control: `pick` is the model router's
 * (which only offers backends under their caps), `acquire` and `release` also count the request's
 * KV tokens on the backend and charge the time it held the slot to its session. A slot the gate
 * reserved while the request waited is acquired already, so the attempt's `acquire` of it is a
 * no-op.
 */
export class AdmissionTicket {
  readonly #gate: AdmissionGate;
  readonly #router: ModelRouter;
  readonly #options: AdmissionTicketOptions;
  readonly #now: () => number;
  #reserved: BackendView | undefined;
  #heldAt = 0;
  /** Requests in flight on its backend once it was counted there, itself included. */
  #inFlightAtSend = 0;

  /** @param gate the model's gate, @param router the model's router, @param options tokens and service accounting */
  constructor(gate: AdmissionGate, router: ModelRouter, options: AdmissionTicketOptions) {
    this.#gate = gate;
    this.#router = router;
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
  }

  /** The KV tokens it counts. */
  get tokens(): number {
    return this.#options.tokens;
  }

  /** The best backend with room for `request`, skipping `exclude`; fills `note` in when given. */
  pick(
    request: RequestFeatures,
    exclude?: ReadonlySet<string>,
    note?: PickNote,
  ): BackendView | undefined {
    return this.#router.pick(request, exclude, note);
  }

  /** Counts the request on `view` now, while it still waits (the gate hands it this slot). */
  reserve(view: BackendView): void {
    this.#count(view);
    this.#reserved = view;
  }

  /** Counts the request on `view` (right after `pick`), unless the gate reserved that slot for it. */
  acquire(view: BackendView): void {
    if (this.#reserved === view) {
      this.#reserved = undefined;
      return;
    }
    this.#count(view);
  }

  /**
   * Gives back the slot and tokens on `view`, charges the time held, and feeds a successful
   * `outcome`'s latency (time to first token, else the whole answer's) to the replica's adaptive
   * limit; the gate then serves its waiters, and the router tells its strategies `request` ended.
   */
  release(view: BackendView, outcome?: RequestOutcome, request?: RequestFeatures): void {
    const heldMs = this.#now() - this.#heldAt;
    this.#gate.free(view, this.#options.tokens, heldMs);
    if (outcome?.ok) this.#observe(view, outcome);
    const key = this.#options.serviceKey;
    if (key !== undefined) this.#options.attained.charge(key, heldMs);
    this.#router.release(view, outcome, request);
  }

  /** Tells the router that `request`'s first token came from `view`. */
  prefilled(view: BackendView, request: RequestFeatures): void {
    this.#router.prefilled(view, request);
  }

  #count(view: BackendView): void {
    this.#router.acquire(view);
    this.#gate.hold(view, this.#options.tokens);
    this.#heldAt = this.#now();
    this.#inFlightAtSend = view.inFlight;
  }

  #observe(view: BackendView, outcome: RequestOutcome): void {
    const prompt = this.#options.promptTokens ?? 0;
    const inFlight = this.#inFlightAtSend;
    if (outcome.ttftMs !== undefined) {
      this.#gate.observe(view, {
        kind: "ttft",
        ms: outcome.ttftMs,
        work: workTokens(prompt),
        inFlight,
      });
    } else if (outcome.totalMs !== undefined) {
      const generated = this.#options.generatedTokens?.() ?? 0;
      this.#gate.observe(view, {
        kind: "total",
        ms: outcome.totalMs,
        work: workTokens(prompt, generated),
        inFlight,
      });
    }
  }
}
