/** An allocation-free ordered set of small integer keys, each with a stamp: the storage of a prefix index. */

const NONE = -1;
/** A table slot holds an entry number in its low bits and a few bits of the key above them. */
const ENTRY_BITS = 21;
const ENTRY_MASK = (1 << ENTRY_BITS) - 1;
/** Most keys one set can hold: the entry numbers a slot has room for. */
export const LRU_KEYS_MAX = 1 << ENTRY_BITS;
/** Most keys per table slot before the table doubles: short probes, most misses at the first. */
const MAX_LOAD = 0.5;
/** Room for entries beyond the expected count (a prompt's insert before the trim), before they grow. */
const ENTRY_SLACK = 1.125;

/** The ten bits of `key` a table slot keeps: its low ones (the slot is chosen by its hash's top bits). */
function tagOf(key: number): number {
  return key & 0x3ff;
}

/** A table slot's value for `key`'s entry number `entry`. */
function slotValue(key: number, entry: number): number {
  return (tagOf(key) << ENTRY_BITS) | entry;
}

/** `into` with `from` copied to its start. */
function copied<T extends Int32Array | Float64Array>(from: T, into: T): T {
  into.set(from);
  return into;
}

/**
 * Keys in `[0, 2^30)`, each with a stamp (a number), kept in the order they were last added:
 * {@linkcode add} puts a key at the back, {@linkcode shift} takes the front one.
 *
 * The entries (key, stamp, and the links of a doubly linked list in recency order) live in typed
 * arrays, their free slots chained; an open-addressing table of entry numbers finds them (linear
 * probing; a delete shifts the rest of its run back, so no tombstones accumulate). Each slot also
 * keeps ten bits of its key, so a probe past another key rarely reads the entry's own key: a
 * lookup that misses, the common case for a replica that does not hold a prompt, reads one cache
 * line of the table. Once the arrays have grown to the working size nothing is allocated. A Map
 * did the same at several times the cost per lookup, with a large allocation to rehash every so
 * many deletes.
 */
export class LruKeys {
  #table: Int32Array;
  #shift: number;
  #keys: Int32Array;
  #stamps: Float64Array;
  #prev: Int32Array;
  #next: Int32Array;
  #size = 0;
  #first = NONE;
  #last = NONE;
  /** The first free entry; free entries are chained through `#next`. */
  #free = NONE;
  /** Entries ever used: the free chain holds those below this that were removed. */
  #used = 0;

  /** @param expected how many keys it will usually hold (it grows past that as needed) */
  constructor(expected: number) {
    const entries = Math.min(
      LRU_KEYS_MAX,
      Math.max(4, Math.ceil(Math.max(1, expected) * ENTRY_SLACK)),
    );
    let bits = 3;
    while ((1 << bits) * MAX_LOAD < expected) bits++;
    this.#shift = 32 - bits;
    this.#table = new Int32Array(1 << bits).fill(NONE);
    this.#keys = new Int32Array(entries);
    this.#stamps = new Float64Array(entries);
    this.#prev = new Int32Array(entries);
    this.#next = new Int32Array(entries);
  }

  /** Keys held. */
  get size(): number {
    return this.#size;
  }

  /** The key's first slot to probe: the top bits of a multiplicative (Fibonacci) hash. */
  #home(key: number): number {
    return Math.imul(key, 0x9e3779b1) >>> this.#shift;
  }

  /** The table slot holding `key`'s entry, or the empty slot where it would go. */
  #slot(key: number): number {
    const table = this.#table;
    const keys = this.#keys;
    const mask = table.length - 1;
    const tag = tagOf(key);
    let slot = this.#home(key);
    for (;;) {
      const v = table[slot]!;
      if (v === NONE || ((v >>> ENTRY_BITS) === tag && keys[v & ENTRY_MASK] === key)) return slot;
      slot = (slot + 1) & mask;
    }
  }

  /** The entry of `key`, or -1. */
  #find(key: number): number {
    const v = this.#table[this.#slot(key)]!;
    return v === NONE ? NONE : v & ENTRY_MASK;
  }

  /** Whether `key` is held. */
  has(key: number): boolean {
    return this.#find(key) !== NONE;
  }

  /** The stamp `key` was last added with, or undefined when it is not held. */
  stamp(key: number): number | undefined {
    const entry = this.#find(key);
    return entry === NONE ? undefined : this.#stamps[entry];
  }

  /** The oldest key's stamp, or undefined when empty. */
  get oldestStamp(): number | undefined {
    return this.#first === NONE ? undefined : this.#stamps[this.#first];
  }

  /** Adds `key` (or moves it) to the back with `stamp`; returns whether it was not held before. */
  add(key: number, stamp: number): boolean {
    let slot = this.#slot(key);
    let entry = this.#table[slot]!;
    if (entry === NONE) {
      if ((this.#size + 1) > this.#table.length * MAX_LOAD) {
        this.#growTable();
        slot = this.#slot(key);
      }
      entry = this.#allocate();
      this.#keys[entry] = key;
      this.#table[slot] = slotValue(key, entry);
      this.#size++;
      this.#stamps[entry] = stamp;
      this.#linkLast(entry);
      return true;
    }
    entry &= ENTRY_MASK;
    this.#stamps[entry] = stamp;
    if (entry !== this.#last) {
      this.#unlink(entry);
      this.#linkLast(entry);
    }
    return false;
  }

  /** Removes `key`; returns whether it was held. */
  delete(key: number): boolean {
    const slot = this.#slot(key);
    const v = this.#table[slot]!;
    if (v === NONE) return false;
    this.#remove(slot, v & ENTRY_MASK);
    return true;
  }

  /** Removes the oldest key and returns it, or undefined when empty. */
  shift(): number | undefined {
    const entry = this.#first;
    if (entry === NONE) return undefined;
    const key = this.#keys[entry]!;
    this.#remove(this.#slot(key), entry);
    return key;
  }

  /** A free entry: a removed one, else the next never used (the arrays grow when all are). */
  #allocate(): number {
    if (this.#free !== NONE) {
      const entry = this.#free;
      this.#free = this.#next[entry]!;
      return entry;
    }
    if (this.#used === this.#keys.length) this.#growEntries();
    return this.#used++;
  }

  #unlink(entry: number): void {
    const p = this.#prev[entry]!;
    const n = this.#next[entry]!;
    if (p === NONE) this.#first = n;
    else this.#next[p] = n;
    if (n === NONE) this.#last = p;
    else this.#prev[n] = p;
  }

  #linkLast(entry: number): void {
    this.#prev[entry] = this.#last;
    this.#next[entry] = NONE;
    if (this.#last === NONE) this.#first = entry;
    else this.#next[this.#last] = entry;
    this.#last = entry;
  }

  /** Frees `entry` and empties its table `slot`, shifting back the rest of the probe run. */
  #remove(slot: number, entry: number): void {
    this.#unlink(entry);
    this.#next[entry] = this.#free;
    this.#free = entry;
    this.#size--;
    const table = this.#table;
    const keys = this.#keys;
    const mask = table.length - 1;
    let hole = slot;
    for (let j = (slot + 1) & mask;; j = (j + 1) & mask) {
      const v = table[j]!;
      if (v === NONE) break;
      // The entry at j may fill the hole unless its home lies cyclically in (hole, j].
      const home = this.#home(keys[v & ENTRY_MASK]!);
      if (hole <= j ? hole < home && home <= j : hole < home || home <= j) continue;
      table[hole] = v;
      hole = j;
    }
    table[hole] = NONE;
  }

  /** Doubles the table and puts every entry back in it. */
  #growTable(): void {
    this.#table = new Int32Array(this.#table.length * 2).fill(NONE);
    this.#shift--;
    for (let e = this.#first; e !== NONE; e = this.#next[e]!) {
      const key = this.#keys[e]!;
      this.#table[this.#slot(key)] = slotValue(key, e);
    }
  }

  /** Makes half as many entries again; entry numbers stay, so the table and links hold. */
  #growEntries(): void {
    if (this.#keys.length >= LRU_KEYS_MAX) {
      throw new Error(
        `A prefix index cannot hold more than ${LRU_KEYS_MAX} blocks: lower proxy.prefix_cache_tokens or raise proxy.prefix_block_chars`,
      );
    }
    const n = Math.min(LRU_KEYS_MAX, Math.ceil(this.#keys.length * 1.5));
    this.#keys = copied(this.#keys, new Int32Array(n));
    this.#stamps = copied(this.#stamps, new Float64Array(n));
    this.#prev = copied(this.#prev, new Int32Array(n));
    this.#next = copied(this.#next, new Int32Array(n));
  }
}
