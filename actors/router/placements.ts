/**
 * Placements shared between the gateway processes on one KV store: which replica each prompt's
 * prefix blocks were sent to, and how much of it the replica was expected to prefill. Each
 * process's prefix index knows only what it routed itself; with two processes each sees half of
 * the traffic that fills a replica's cache and half of the prefill queued there. Every
 * `intervalMs` a process writes what it placed since its last write (and which of those prefills
 * are done) as one KV value, and reads the values the other processes wrote: its routers absorb
 * their blocks into their estimates and count their prefill as load until it is done. Off the hot
 * path both ways: a pick only appends to an in-memory outbox.
 */
import { z } from "zod";
import { Repeating } from "../runtime/repeating.ts";
import type { RequestFeatures } from "./strategies/mod.ts";

const PREFIX = ["placement"] as const;

/** Most prefix blocks one placement carries: a prompt's leading 4,000 blocks (8 MB of text at 2,048 characters a block). */
const HASHES_PER_PLACEMENT = 4_000;

/**
 * Bytes one KV value is filled to at most, as a write counts them (a value holds 64 KiB): 9 a
 * number, as V8 serializes a double, each string's length, and some for the framing.
 */
const BYTES_PER_VALUE = 48_000;

/** Most placements (and ends of prefill) the outbox keeps between two writes; the oldest go first past it. */
const OUTBOX_MAX = 8_192;

/**
 * How far back a read looks, in ms: a value stamped just before the last read can commit after it
 * (a write waits for the KV file's lock). Each read skips the values it has seen in that window,
 * but reads them again (a list returns whole values): a longer window costs each read more.
 */
const READ_BEHIND_MS = 500;

/**
 * Another process's prefill counts as load here at most this long, in ms: its end may never
 * come (that process was killed).
 */
const FOREIGN_PREFILL_MAX_MS = 120_000;

/**
 * One value under `["placement", atMs, node, seq]`: placements `[model, backend id, block hashes,
 * uncached prompt characters, id]` and the ids whose prefill is done.
 */
const PlacementsSchema = z.object({
  p: z.array(
    z.tuple([z.string(), z.string(), z.array(z.number()), z.number().nonnegative(), z.number()]),
  ),
  d: z.array(z.number()),
});
type Placements = z.infer<typeof PlacementsSchema>;
type Placement = Placements["p"][number];

/**
 * The characters of `request`'s prompt that the strategy expected the chosen backend to prefill:
 * all but the leading blocks it predicted cached there.
 */
export function uncachedChars(request: RequestFeatures, blockChars: number): number {
  return Math.max(0, request.promptChars - (request.predictedPrefixBlocks ?? 0) * blockChars);
}

/** Options of {@linkcode PlacementShare}. */
export interface PlacementShareOptions {
  /** This gateway process (actor system node id): its own values are not read back. */
  nodeId: string;
  /** Characters per prefix block (`proxy.prefix_block_chars`), to count a prompt's uncached part. */
  blockChars: number;
  /** Time between writes (and reads), in ms. @default 25 */
  intervalMs?: number;
  /** How long a value stays in KV, in ms. @default 30_000 */
  retentionMs?: number;
  /**
   * Whether another gateway process is on the store now: alone, a process writes and reads
   * nothing, lets go of what it notes, and no longer counts the others' prefill. @default always
   */
  othersPresent?: () => boolean;
  /** Clock in ms since the epoch. @default Date.now */
  now?: () => number;
}

/** The routers' side of the other processes' placements. */
export interface PlacementRouters {
  /** Another process sent a prompt with blocks `hashes` to `backendId`, `pendingChars` of it uncached. */
  absorb(model: string, backendId: string, hashes: readonly number[], pendingChars: number): void;
  /** That process's `pendingChars` of prefill on `backendId` are done. */
  absorbedPrefilled(model: string, backendId: string, pendingChars: number): void;
}

/** Another process's prefill counted here until its end. */
interface ForeignPrefill {
  model: string;
  backendId: string;
  chars: number;
  at: number;
}

/** Shares this process's placements through KV and hands the other processes' to its routers. */
export class PlacementShare {
  readonly #kv: Deno.Kv;
  readonly #routers: PlacementRouters;
  readonly #node: string;
  readonly #blockChars: number;
  readonly #retentionMs: number;
  readonly #now: () => number;
  readonly #othersPresent: () => boolean;
  readonly #repeat: Repeating;
  #placed: Placement[] = [];
  #done: number[] = [];
  #nextId = 0;
  #seq = 0;
  /** Keys of the values read within the window, with their timestamps. */
  #seen = new Map<string, number>();
  /** Other processes' prefill counted as load here, by node and id. */
  #foreign = new Map<string, ForeignPrefill>();
  /** Ends read before their placements (node and id), with when, so those count no load. */
  #early = new Map<string, number>();
  #absorbed = 0;

  /** @param kv the store every gateway process opens, @param routers the routers' side */
  constructor(kv: Deno.Kv, routers: PlacementRouters, options: PlacementShareOptions) {
    this.#kv = kv;
    this.#routers = routers;
    this.#node = options.nodeId;
    this.#blockChars = options.blockChars;
    this.#retentionMs = options.retentionMs ?? 30_000;
    this.#now = options.now ?? Date.now;
    this.#othersPresent = options.othersPresent ?? (() => true);
    this.#repeat = new Repeating(() => this.sync(), {
      intervalMs: options.intervalMs ?? 25,
      what: "share routing placements through KV",
      now: this.#now,
      keepsAlive: false,
    });
  }

  /** Placements of other processes handed to the routers so far. */
  get absorbed(): number {
    return this.#absorbed;
  }

  /** Other processes' prefills counted as load here now. */
  get foreignPrefills(): number {
    return this.#foreign.size;
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

  /**
   * Notes that this process sent `request` to `backendId` (the hot path's part: an array push).
   * Its uncached part is what the strategy predicted the backend lacks; a retry's earlier
   * placement ends first.
   */
  note(model: string, backendId: string, request: RequestFeatures): void {
    this.prefilled(request);
    // Alone on the store, the next sync would let it go unwritten.
    if (!this.#othersPresent()) return;
    const pending = uncachedChars(request, this.#blockChars);
    const id = this.#nextId++;
    if (pending > 0) request.sharedPlacement = id;
    if (this.#placed.length >= OUTBOX_MAX) this.#placed.shift();
    this.#placed.push([model, backendId, request.prefixHashes as number[], pending, id]);
  }

  /** Notes that `request`'s prefill is done (its first token, or its end); once per placement. */
  prefilled(request: RequestFeatures): void {
    const id = request.sharedPlacement;
    if (id === undefined) return;
    request.sharedPlacement = undefined;
    if (this.#done.length >= OUTBOX_MAX) this.#done.shift();
    this.#done.push(id);
  }

  /** Writes the outbox, then reads and absorbs the other processes' new values (nothing while alone). */
  async sync(): Promise<void> {
    const now = this.#now();
    const alone = !this.#othersPresent();
    if (alone) {
      this.#placed = [];
      this.#done = [];
    } else {
      await this.#write();
      await this.#read(now);
    }
    // Alone, the others' heartbeats lapsed: whatever they were prefilling ended or died with them.
    this.#expire(alone ? Infinity : now);
  }

  async #write(): Promise<void> {
    if (this.#placed.length === 0 && this.#done.length === 0) return;
    const placed = this.#placed;
    const done = this.#done;
    this.#placed = [];
    this.#done = [];
    const at = this.#now();
    const values: Placements[] = [];
    let value: Placements = { p: [], d: [] };
    let bytes = 0;
    const room = (more: number) => {
      if (bytes + more > BYTES_PER_VALUE && (value.p.length > 0 || value.d.length > 0)) {
        values.push(value);
        value = { p: [], d: [] };
        bytes = 0;
      }
      bytes += more;
    };
    for (const [model, backendId, hashes, pending, id] of placed) {
      const blocks = hashes.length > HASHES_PER_PLACEMENT
        ? hashes.slice(0, HASHES_PER_PLACEMENT)
        : hashes;
      room(9 * (blocks.length + 2) + model.length + backendId.length + 16);
      value.p.push([model, backendId, blocks, pending, id]);
    }
    // The ends go after every placement they may end.
    for (const id of done) {
      room(9);
      value.d.push(id);
    }
    values.push(value);
    // One after another: a reader that sees a later value has seen the earlier ones.
    for (const v of values) {
      await this.#kv.set([...PREFIX, at, this.#node, this.#seq++], v, {
        expireIn: this.#retentionMs,
      });
    }
  }

  async #read(now: number): Promise<void> {
    const from = now - READ_BEHIND_MS;
    for await (
      const entry of this.#kv.list({ start: [...PREFIX, from], end: [...PREFIX, Infinity] })
    ) {
      const [, at, node] = entry.key;
      if (typeof at !== "number" || typeof node !== "string" || node === this.#node) continue;
      const key = JSON.stringify(entry.key);
      if (this.#seen.has(key)) continue;
      this.#seen.set(key, at);
      const parsed = PlacementsSchema.safeParse(entry.value);
      if (parsed.success) this.#take(node, parsed.data, now);
    }
    for (const [key, at] of this.#seen) if (at < from) this.#seen.delete(key);
  }

  /**
   * Lets go of other processes' prefills whose end has not come in
   * {@linkcode FOREIGN_PREFILL_MAX_MS} by `now` (of all of them at `Infinity`).
   */
  #expire(now: number): void {
    for (const [key, at] of this.#early) {
      if (at < now - FOREIGN_PREFILL_MAX_MS) this.#early.delete(key);
    }
    for (const [key, prefill] of this.#foreign) {
      if (prefill.at >= now - FOREIGN_PREFILL_MAX_MS) break;
      this.#foreign.delete(key);
      this.#routers.absorbedPrefilled(prefill.model, prefill.backendId, prefill.chars);
    }
  }

  /** Hands one value of `node`'s to the routers. */
  #take(node: string, value: Placements, now: number): void {
    for (const [model, backendId, hashes, pending, id] of value.p) {
      const key = `${node}:${id}`;
      const ended = this.#early.delete(key);
      const chars = ended ? 0 : pending;
      this.#routers.absorb(model, backendId, hashes, chars);
      if (chars > 0) this.#foreign.set(key, { model, backendId, chars, at: now });
      this.#absorbed++;
    }
    for (const id of value.d) {
      const key = `${node}:${id}`;
      const prefill = this.#foreign.get(key);
      if (prefill === undefined) {
        this.#early.set(key, now);
        continue;
      }
      this.#foreign.delete(key);
      this.#routers.absorbedPrefilled(prefill.model, prefill.backendId, prefill.chars);
    }
  }
}
