/**
 * The host-to-GPU link of a replica with a host KV tier: loads of offloaded blocks run one after
 * another over it, and each sequence waits for its own load, holding its blocks (vLLM's
 * WAITING_FOR_REMOTE_KVS), while the others keep running.
 */
import type { Sequence } from "./sequence.ts";

interface Load {
  seq: Sequence;
  doneMs: number;
}

/** Loads in flight over one link, in the order they finish. */
export class HostLink {
  readonly #msPerToken: number;
  /** When the link is free again, on the simulated time line. */
  #busyUntilMs = -Infinity;
  #loads: Load[] = [];

  /** @param bytesPerToken KV bytes of a token, @param bytesPerSecond the link's bandwidth */
  constructor(bytesPerToken: number, bytesPerSecond: number) {
    if (!(bytesPerSecond > 0)) throw new RangeError("The host link's bandwidth must be positive");
    this.#msPerToken = bytesPerToken / bytesPerSecond * 1000;
  }

  /** Sequences loading now. */
  get size(): number {
    return this.#loads.length;
  }

  /** Ids of the sequences loading, in the order their loads finish. */
  get ids(): string[] {
    return this.#loads.map((l) => l.seq.request.id);
  }

  /** When the next load finishes, if any is in flight. */
  get nextDoneMs(): number | undefined {
    return this.#loads[0]?.doneMs;
  }

  /** Ms that `tokens` of KV take over the link on their own. */
  loadMs(tokens: number): number {
    return tokens * this.#msPerToken;
  }

  /**
   * Queues the load of `tokens` of KV for `seq` at `nowMs`: it starts once the loads before it
   * are done. Returns when it finishes.
   */
  load(seq: Sequence, tokens: number, nowMs: number): number {
    const doneMs = Math.max(nowMs, this.#busyUntilMs) + this.loadMs(tokens);
    this.#busyUntilMs = doneMs;
    this.#loads.push({ seq, doneMs });
    return doneMs;
  }

  /** Removes and returns the sequences whose loads are done by `nowMs`, in finishing order. */
  takeDone(nowMs: number): Sequence[] {
    let n = 0;
    while (n < this.#loads.length && this.#loads[n]!.doneMs <= nowMs) n++;
    if (n === 0) return [];
    return this.#loads.splice(0, n).map((l) => l.seq);
  }

  /** Forgets `seq`'s load (it was aborted); the link stays busy for the time it was given. */
  remove(seq: Sequence): void {
    this.#loads = this.#loads.filter((l) => l.seq !== seq);
  }
}
