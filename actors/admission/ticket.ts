/** One request's pass through admission: the router calls it makes, with its KV tokens counted and its session charged for the time it held a slot. */
import type { BackendView, ModelRouter, RequestFeatures } from "../router/mod.ts";
import type { AttainedService } from "./attained.ts";
import type { AdmissionGate } from "./gate.ts";

/** Options of {@linkcode AdmissionTicket}. */
export interface AdmissionTicketOptions {
  /** The KV tokens the request is expected to hold. */
  tokens: number;
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

  /** The best backend with room for `request`, skipping `exclude`. */
  pick(request: RequestFeatures, exclude?: ReadonlySet<string>): BackendView | undefined {
    return this.#router.pick(request, exclude);
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

  /** Gives back the slot and tokens on `view` and charges the time held; the gate then serves its waiters. */
  release(view: BackendView): void {
    const heldMs = this.#now() - this.#heldAt;
    this.#gate.free(view, this.#options.tokens, heldMs);
    const key = this.#options.serviceKey;
    if (key !== undefined) this.#options.attained.charge(key, heldMs);
    this.#router.release(view);
  }

  #count(view: BackendView): void {
    this.#router.acquire(view);
    this.#gate.hold(view, this.#options.tokens);
    this.#heldAt = this.#now();
  }
}
