/** A model's picker whose strategy can change at run time, with an optional canary: a share of sessions routed by a candidate strategy. */
import type { StrategySpec } from "./strategies/mod.ts";
import { strategyLabel } from "./strategies/mod.ts";
import type {
  BackendView,
  CacheReport,
  Picker,
  PickNote,
  RequestFeatures,
} from "./strategies/mod.ts";

/** Which side of a canary routes a request. */
export type CanaryArm = "canary" | "incumbent";

/** A picker and the strategy it was built from. */
interface Side {
  spec: StrategySpec;
  picker: Picker;
}

/** The canary's side: its strategy and the share of sessions it takes. */
interface CanarySide extends Side {
  share: number;
}

/**
 * Where a session id falls in [0, 1), so a session keeps its side: FNV-1a of its UTF-16 code
 * units, then MurmurHash3's 32-bit finaliser, since FNV-1a alone leaves the high bits of ids that
 * differ only in their last characters (`session-1`, `session-2`) close together.
 */
export function sessionPoint(sessionId: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < sessionId.length; i++) {
    hash ^= sessionId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return (hash >>> 0) / 0x1_0000_0000;
}

/**
 * The picker a model's router holds: every pick goes to the incumbent strategy, or, while a
 * canary runs, a request whose session falls within the canary's share goes to the canary's.
 * Requests without a session stay with the incumbent. Each side keeps its own state (affinity
 * tables, prefix indexes); a promoted canary keeps what it learnt.
 */
export class SwitchablePicker implements Picker {
  readonly #build: (spec: StrategySpec) => Picker;
  #incumbent: Side;
  #canary: CanarySide | undefined;

  /** @param spec the starting strategy, @param build makes a picker for a strategy */
  constructor(spec: StrategySpec, build: (spec: StrategySpec) => Picker) {
    this.#build = build;
    this.#incumbent = { spec, picker: build(spec) };
  }

  /** The incumbent's strategy. */
  get strategy(): StrategySpec {
    return this.#incumbent.spec;
  }

  /** The canary's strategy and share, undefined when none runs. */
  get canary(): { strategy: StrategySpec; share: number } | undefined {
    const c = this.#canary;
    return c === undefined ? undefined : { strategy: c.spec, share: c.share };
  }

  /** The side that routes a request of `sessionId`; undefined while no canary runs. */
  armOf(sessionId: string | undefined): CanaryArm | undefined {
    const canary = this.#canary;
    if (canary === undefined) return undefined;
    return sessionId !== undefined && sessionPoint(sessionId) < canary.share
      ? "canary"
      : "incumbent";
  }

  /** The incumbent's label. */
  get label(): string {
    return strategyLabel(this.#incumbent.spec);
  }

  /** Picks with the side of the request's session; `note` names the side while a canary runs. */
  pick(
    request: RequestFeatures,
    candidates: readonly BackendView[],
    note?: PickNote,
  ): BackendView | undefined {
    const canary = this.#canary;
    if (canary === undefined) {
      if (note !== undefined) delete note.arm;
      return this.#incumbent.picker.pick(request, candidates, note);
    }
    const arm = this.armOf(request.sessionId)!;
    if (note !== undefined) note.arm = arm;
    const side = arm === "canary" ? canary : this.#incumbent;
    return side.picker.pick(request, candidates, note);
  }

  /** Drops what both sides knew of a backend. */
  forget(backendId: string): void {
    this.#incumbent.picker.forget(backendId);
    this.#canary?.picker.forget(backendId);
  }

  /** Passes a replica's cache report to the side that routed the request. */
  learn(request: RequestFeatures, backendId: string, report: CacheReport): void {
    const side = this.armOf(request.sessionId) === "canary" ? this.#canary : this.#incumbent;
    side?.picker.learn?.(request, backendId, report);
  }

  /** Passes another gateway process's placement to both sides: each routes some of its sessions. */
  absorb(backendId: string, hashes: readonly number[], pendingChars: number): void {
    this.#incumbent.picker.absorb?.(backendId, hashes, pendingChars);
    this.#canary?.picker.absorb?.(backendId, hashes, pendingChars);
  }

  /** Passes the end of another process's prefill to both sides. */
  absorbedPrefilled(backendId: string, pendingChars: number): void {
    this.#incumbent.picker.absorbedPrefilled?.(backendId, pendingChars);
    this.#canary?.picker.absorbedPrefilled?.(backendId, pendingChars);
  }

  /** Switches every request to `spec` now, ending a canary. */
  set(spec: StrategySpec): void {
    this.#canary = undefined;
    this.#incumbent = { spec, picker: this.#build(spec) };
  }

  /** Routes `share` (0 < share < 1) of sessions with `spec`, replacing a canary that runs. */
  startCanary(spec: StrategySpec, share: number): void {
    this.#canary = { spec, picker: this.#build(spec), share };
  }

  /** Makes the canary the incumbent for every request (keeping its learnt state). */
  promote(): void {
    if (this.#canary === undefined) return;
    this.#incumbent = { spec: this.#canary.spec, picker: this.#canary.picker };
    this.#canary = undefined;
  }

  /** Ends the canary: every request goes to the incumbent again. */
  rollback(): void {
    this.#canary = undefined;
  }
}

/** The switchable pickers of every model, made on demand with the current default strategy. */
export class PickerSwitches {
  readonly #build: (spec: StrategySpec) => Picker;
  readonly #pickers = new Map<string, SwitchablePicker>();
  #default: StrategySpec;

  /** @param spec the strategy new models start with, @param build makes a picker for a strategy */
  constructor(spec: StrategySpec, build: (spec: StrategySpec) => Picker) {
    this.#default = spec;
    this.#build = build;
  }

  /** The strategy a model added from now on starts with. */
  get defaultStrategy(): StrategySpec {
    return this.#default;
  }

  /** Sets the strategy models added from now on start with. */
  setDefault(spec: StrategySpec): void {
    this.#default = spec;
  }

  /** The picker of `model`, made with the default strategy the first time (the fleet's `picker` option). */
  pickerFor(model: string): SwitchablePicker {
    let picker = this.#pickers.get(model);
    if (picker === undefined) {
      picker = new SwitchablePicker(this.#default, this.#build);
      this.#pickers.set(model, picker);
    }
    return picker;
  }

  /** The picker of `model`, if it has one. */
  get(model: string): SwitchablePicker | undefined {
    return this.#pickers.get(model);
  }

  /** Every model with a picker. */
  models(): string[] {
    return [...this.#pickers.keys()];
  }

  /** Every strategy in use (the default, each model's incumbent and canary). */
  strategies(): StrategySpec[] {
    const specs: StrategySpec[] = [this.#default];
    for (const picker of this.#pickers.values()) {
      specs.push(picker.strategy);
      const canary = picker.canary;
      if (canary !== undefined) specs.push(canary.strategy);
    }
    return specs;
  }
}
