/**
 * Placements shared between the gateway processes on one KV store: which replica each prompt's
 * prefix blocks were sent to. Each process's prefix index knows only what it routed itself; with
 * two processes each sees half of the traffic that fills a replica's cache, and routes the other
 * half's conversations as if their history were nowhere. Every `intervalMs` a process writes what
 * it placed since its last write as one KV value, and reads the values the other processes wrote,
 * whose placements its routers absorb into their estimates. Off the hot path both ways: a pick
 * only appends to an in-memory outbox.
 */
import { z } from "zod";
import { Repeating } from "../runtime/repeating.ts";

const PREFIX = ["placement"] as const;

/** Most prefix blocks one KV value carries (a value holds 64 KiB at most). */
const HASHES_PER_VALUE = 4_000;

/** Most placements the outbox keeps between two writes; the oldest go first past it. */
const OUTBOX_MAX = 8_192;

/**
 * How far back a read looks, in ms: a value stamped just before the last read can commit after it.
 * Each read skips the values it has seen in that window.
 */
const READ_BEHIND_MS = 2_000;

/** One value of placements under `["placement", atMs, node, seq]`: `[model, backend id, block hashes]` each. */
const PlacementsSchema = z.array(z.tuple([z.string(), z.string(), z.array(z.number())]));

/** Options of {@linkcode PlacementShare}. */
export interface PlacementShareOptions {
  /** This gateway process (actor system node id): its own values are not read back. */
  nodeId: string;
  /** Time between writes (and reads), in ms. @default 100 */
  intervalMs?: number;
  /** How long a value stays in KV, in ms. @default 30_000 */
  retentionMs?: number;
  /** Clock in ms since the epoch. @default Date.now */
  now?: () => number;
}

/** The routers' side: takes another process's placement of `hashes` on `backendId` for `model`. */
export type AbsorbPlacement = (model: string, backendId: string, hashes: readonly number[]) => void;

/** Shares this process's placements through KV and hands the other processes' to `absorb`. */
export class PlacementShare {
  readonly #kv: Deno.Kv;
  readonly #absorb: AbsorbPlacement;
  readonly #node: string;
  readonly #retentionMs: number;
  readonly #now: () => number;
  readonly #repeat: Repeating;
  #outbox: [string, string, readonly number[]][] = [];
  #seq = 0;
  /** Keys of the values read within the window, with their timestamps. */
  #seen = new Map<string, number>();
  #absorbed = 0;

  /** @param kv the store every gateway process opens, @param absorb the routers' side */
  constructor(kv: Deno.Kv, absorb: AbsorbPlacement, options: PlacementShareOptions) {
    this.#kv = kv;
    this.#absorb = absorb;
    this.#node = options.nodeId;
    this.#retentionMs = options.retentionMs ?? 30_000;
    this.#now = options.now ?? Date.now;
    this.#repeat = new Repeating(() => this.sync(), {
      intervalMs: options.intervalMs ?? 100,
      what: "share routing placements through KV",
      now: this.#now,
      keepsAlive: false,
    });
  }

  /** Placements of other processes handed to the routers so far. */
  get absorbed(): number {
    return this.#absorbed;
  }

  /** Starts writing and reading every interval. */
  start(): void {
    this.#repeat.start();
  }

  /** Stops the timer and writes what is still in the outbox. */
  async close(): Promise<void> {
    this.#repeat.stop();
    await this.#write();
  }

  /** Notes that this process sent a prompt with prefix blocks `hashes` to `backendId` (the hot path's part). */
  note(model: string, backendId: string, hashes: readonly number[]): void {
    if (this.#outbox.length >= OUTBOX_MAX) this.#outbox.shift();
    this.#outbox.push([model, backendId, hashes]);
  }

  /** Writes the outbox, then reads and absorbs the other processes' new values. */
  async sync(): Promise<void> {
    await this.#write();
    await this.#read();
  }

  async #write(): Promise<void> {
    const outbox = this.#outbox;
    if (outbox.length === 0) return;
    this.#outbox = [];
    const at = this.#now();
    let value: [string, string, readonly number[]][] = [];
    let hashes = 0;
    const writes: Promise<unknown>[] = [];
    const flush = () => {
      if (value.length === 0) return;
      writes.push(
        this.#kv.set([...PREFIX, at, this.#node, this.#seq++], value, {
          expireIn: this.#retentionMs,
        }),
      );
      value = [];
      hashes = 0;
    };
    for (const placement of outbox) {
      const blocks = placement[2].length > HASHES_PER_VALUE
        ? placement[2].slice(0, HASHES_PER_VALUE)
        : placement[2];
      if (hashes + blocks.length > HASHES_PER_VALUE) flush();
      value.push([placement[0], placement[1], blocks]);
      hashes += blocks.length;
    }
    flush();
    await Promise.all(writes);
  }

  async #read(): Promise<void> {
    const from = this.#now() - READ_BEHIND_MS;
    for await (
      const entry of this.#kv.list({ start: [...PREFIX, from], end: [...PREFIX, Infinity] })
    ) {
      const [, at, node] = entry.key;
      if (typeof at !== "number" || node === this.#node) continue;
      const id = JSON.stringify(entry.key);
      if (this.#seen.has(id)) continue;
      this.#seen.set(id, at);
      const parsed = PlacementsSchema.safeParse(entry.value);
      if (!parsed.success) continue;
      for (const [model, backendId, hashes] of parsed.data) {
        this.#absorb(model, backendId, hashes);
        this.#absorbed++;
      }
    }
    for (const [id, at] of this.#seen) if (at < from) this.#seen.delete(id);
  }
}
