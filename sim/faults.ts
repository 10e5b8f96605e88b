/** Faults a simulated replica can be told to show: loading, errors, hangs, cut streams, slow tokens, a frozen process, garbage answers. */
import { z } from "zod";
import { mix32 } from "./text.ts";

const rate = z.number().min(0).max(1);

/** The body of `POST /admin/faults`: every field optional, a partial update. */
export const FaultPatchSchema = z.strictObject({
  /** Fraction of generation requests answered 500. */
  error_rate: rate.optional(),
  /** Fraction of generation requests that never answer (until the client gives up). */
  hang_rate: rate.optional(),
  /** Fraction of streams whose connection is cut after `cut_after_tokens` tokens. */
  cut_rate: rate.optional(),
  /** Tokens sent before a cut. */
  cut_after_tokens: z.number().int().min(0).optional(),
  /** Extra ms (simulated) added to every engine step: slow tokens. */
  slow_token_ms: z.number().min(0).optional(),
  /** Start loading again for this many ms (real): `/health` answers 503 meanwhile. */
  loading_ms: z.number().min(0).optional(),
  /**
   * A hung process: every request but `/admin/*` (health probes and `/metrics` scrapes too) gets
   * no byte at all until the fault is cleared or the client gives up.
   */
  freeze: z.boolean().optional(),
  /** What a generation request gets back instead of a real answer (see {@linkcode GarbageMode}). */
  garbage: z.enum(["none", "non_json", "truncated_sse", "html"]).optional(),
});

/**
 * A broken answer with status 200: `non_json` a body that is not JSON under
 * `content-type: application/json`; `truncated_sse` an event stream whose second event is cut
 * mid-JSON, then a clean end of body without `data: [DONE]`; `html` an HTML page under
 * `content-type: text/html`, whatever was asked.
 */
export type GarbageMode = "none" | "non_json" | "truncated_sse" | "html";

/** A partial update of the faults. */
export type FaultPatch = z.infer<typeof FaultPatchSchema>;

/** The faults in force. */
export interface FaultState {
  /** Fraction of requests answered 500. */
  errorRate: number;
  /** Fraction of requests that hang. */
  hangRate: number;
  /** Fraction of streams cut. */
  cutRate: number;
  /** Tokens sent before a cut. */
  cutAfterTokens: number;
  /** Extra simulated ms per step. */
  slowTokenMs: number;
  /** `performance.now()` until which the replica is loading. */
  loadingUntil: number;
  /** Whether every request but `/admin/*` hangs. */
  frozen: boolean;
  /** The broken answer generation requests get. */
  garbage: GarbageMode;
}

/** What happens to one request. */
export type FaultDecision = "error" | "hang" | "cut" | "none";

/** Holds the faults and draws a deterministic decision per request. */
export class Faults {
  /** The current settings. */
  readonly state: FaultState;
  #draws = 0;
  readonly #seed: number;
  #thawed = Promise.withResolvers<void>();

  /** @param initial the start-up settings, @param seed seeds the draws */
  constructor(initial: Partial<FaultState>, seed: number) {
    this.state = {
      errorRate: 0,
      hangRate: 0,
      cutRate: 0,
      cutAfterTokens: 1,
      slowTokenMs: 0,
      loadingUntil: 0,
      frozen: false,
      garbage: "none",
      ...initial,
    };
    this.#seed = seed;
  }

  /** True while the replica pretends to load its model. */
  get loading(): boolean {
    return performance.now() < this.state.loadingUntil;
  }

  /** Applies a patch from the admin endpoint. */
  apply(patch: FaultPatch): void {
    const s = this.state;
    if (patch.error_rate !== undefined) s.errorRate = patch.error_rate;
    if (patch.hang_rate !== undefined) s.hangRate = patch.hang_rate;
    if (patch.cut_rate !== undefined) s.cutRate = patch.cut_rate;
    if (patch.cut_after_tokens !== undefined) s.cutAfterTokens = patch.cut_after_tokens;
    if (patch.slow_token_ms !== undefined) s.slowTokenMs = patch.slow_token_ms;
    if (patch.loading_ms !== undefined) s.loadingUntil = performance.now() + patch.loading_ms;
    if (patch.garbage !== undefined) s.garbage = patch.garbage;
    if (patch.freeze !== undefined) this.#setFrozen(patch.freeze);
  }

  /**
   * Resolves when the replica is not frozen (at once when it is not), or when `signal` aborts:
   * a frozen replica holds each request here without sending a byte.
   */
  thawed(signal: AbortSignal): Promise<void> {
    if (!this.state.frozen || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        signal.removeEventListener("abort", done);
        resolve();
      };
      signal.addEventListener("abort", done, { once: true });
      void this.#thawed.promise.then(done);
    });
  }

  #setFrozen(frozen: boolean): void {
    if (this.state.frozen && !frozen) {
      this.#thawed.resolve();
      this.#thawed = Promise.withResolvers<void>();
    }
    this.state.frozen = frozen;
  }

  /** Clears every fault. */
  clear(): void {
    Object.assign(this.state, {
      errorRate: 0,
      hangRate: 0,
      cutRate: 0,
      slowTokenMs: 0,
      loadingUntil: 0,
      garbage: "none",
    });
    this.#setFrozen(false);
  }

  /** The settings as the admin endpoint shows them. */
  toJSON(): Record<string, number | boolean | string> {
    const s = this.state;
    return {
      error_rate: s.errorRate,
      hang_rate: s.hangRate,
      cut_rate: s.cutRate,
      cut_after_tokens: s.cutAfterTokens,
      slow_token_ms: s.slowTokenMs,
      loading: this.loading,
      freeze: s.frozen,
      garbage: s.garbage,
    };
  }

  /** Draws the fate of the next request: error first, then hang, then cut. */
  decide(): FaultDecision {
    const u = mix32(this.#seed, this.#draws++) / 0x1_0000_0000;
    const s = this.state;
    if (u < s.errorRate) return "error";
    if (u < s.errorRate + s.hangRate) return "hang";
    if (u < s.errorRate + s.hangRate + s.cutRate) return "cut";
    return "none";
  }
}
