/** Faults a simulated replica can be told to show: loading, errors, hangs, cut streams, slow tokens. */
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
});

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
}

/** What happens to one request. */
export type FaultDecision = "error" | "hang" | "cut" | "none";

/** Holds the faults and draws a deterministic decision per request. */
export class Faults {
  /** The current settings. */
  readonly state: FaultState;
  #draws = 0;
  readonly #seed: number;

  /** @param initial the start-up settings, @param seed seeds the draws */
  constructor(initial: Partial<FaultState>, seed: number) {
    this.state = {
      errorRate: 0,
      hangRate: 0,
      cutRate: 0,
      cutAfterTokens: 1,
      slowTokenMs: 0,
      loadingUntil: 0,
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
  }

  /** Clears every fault. */
  clear(): void {
    Object.assign(this.state, {
      errorRate: 0,
      hangRate: 0,
      cutRate: 0,
      slowTokenMs: 0,
      loadingUntil: 0,
    });
  }

  /** The settings as the admin endpoint shows them. */
  toJSON(): Record<string, number | boolean> {
    const s = this.state;
    return {
      error_rate: s.errorRate,
      hang_rate: s.hangRate,
      cut_rate: s.cutRate,
      cut_after_tokens: s.cutAfterTokens,
      slow_token_ms: s.slowTokenMs,
      loading: this.loading,
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
