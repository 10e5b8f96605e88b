/** The waiting line of one model: weighted fair sharing between priority classes (stride scheduling), least attained service first within a class. */
import { PRIORITY_CLASSES, type PriorityClass } from "../../proxy/auth/principal.ts";

/** The weight of each class: under sustained load each backlogged class is served in proportion to it. */
export type ClassWeights = Readonly<Record<PriorityClass, number>>;

/** One waiting item with its place in the line. */
export interface QueueEntry<T> {
  /** What waits. */
  readonly item: T;
  /** Its class. */
  readonly priority: PriorityClass;
  /** Its rank within the class: lower is served first (the session's attained service). */
  readonly rank: number;
  /** Arrival order, which breaks ties of rank. */
  readonly seq: number;
  /** Its index in its class's heap; -1 once it left the line. */
  index: number;
}

/** A stride scheduler's pass advances by this over a class's weight per item served. */
const STRIDE = 1 << 20;

function before<T>(a: QueueEntry<T>, b: QueueEntry<T>): boolean {
  return a.rank < b.rank || (a.rank === b.rank && a.seq < b.seq);
}

/** A binary min-heap of entries by (rank, seq) that keeps each entry's index, so any entry can leave in O(log n). */
class EntryHeap<T> {
  readonly items: QueueEntry<T>[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): QueueEntry<T> | undefined {
    return this.items[0];
  }

  push(entry: QueueEntry<T>): void {
    entry.index = this.items.length;
    this.items.push(entry);
    this.#up(entry.index);
  }

  remove(entry: QueueEntry<T>): void {
    const i = entry.index;
    const last = this.items.pop()!;
    entry.index = -1;
    if (last === entry) return;
    this.items[i] = last;
    last.index = i;
    this.#up(i);
    this.#down(last.index);
  }

  #up(i: number): void {
    const items = this.items;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(items[i]!, items[parent]!)) break;
      this.#swap(i, parent);
      i = parent;
    }
  }

  #down(i: number): void {
    const items = this.items;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let best = i;
      if (left < items.length && before(items[left]!, items[best]!)) best = left;
      if (right < items.length && before(items[right]!, items[best]!)) best = right;
      if (best === i) return;
      this.#swap(i, best);
      i = best;
    }
  }

  #swap(i: number, j: number): void {
    const items = this.items;
    const a = items[i]!;
    const b = items[j]!;
    items[i] = b;
    items[j] = a;
    a.index = j;
    b.index = i;
  }
}

interface ClassLine<T> {
  readonly heap: EntryHeap<T>;
  readonly stride: number;
  /** The stride scheduler's pass: the backlogged class with the lowest is served next. */
  pass: number;
}

/**
 * Items waiting by priority class. {@linkcode shift} serves the backlogged class with the lowest
 * pass (stride scheduling, so `high`, `medium` and `low` get service in the ratio of their
 * weights and no class starves), and within a class the entry of lowest rank, then the oldest.
 * A class that comes back from empty starts at the current virtual time, so it cannot bank the
 * turns it did not use while idle.
 */
export class FairQueue<T> {
  readonly #lines: Record<PriorityClass, ClassLine<T>>;
  readonly #weights: ClassWeights;
  #size = 0;
  #seq = 0;
  /** The pass of the class served last: a class that becomes backlogged starts here. */
  #virtualTime = 0;

  /** @param weights each class's weight */
  constructor(weights: ClassWeights) {
    this.#weights = weights;
    const line = (priority: PriorityClass): ClassLine<T> => ({
      heap: new EntryHeap<T>(),
      stride: STRIDE / weights[priority],
      pass: 0,
    });
    this.#lines = { high: line("high"), medium: line("medium"), low: line("low") };
  }

  /** Entries waiting. */
  get size(): number {
    return this.#size;
  }

  /** Entries of `priority` waiting. */
  sizeOf(priority: PriorityClass): number {
    return this.#lines[priority].heap.size;
  }

  /** Adds `item` to the line of `priority` with `rank` (lower first within the class). */
  push(item: T, priority: PriorityClass, rank: number): QueueEntry<T> {
    const entry: QueueEntry<T> = { item, priority, rank, seq: this.#seq++, index: -1 };
    this.#insert(entry);
    return entry;
  }

  /** Takes `entry` out of the line (it was cancelled); false if it had left already. */
  remove(entry: QueueEntry<T>): boolean {
    if (entry.index < 0) return false;
    this.#lines[entry.priority].heap.remove(entry);
    this.#size--;
    return true;
  }

  /** The entry {@linkcode shift} would take, without taking it. */
  peek(): QueueEntry<T> | undefined {
    return this.#nextLine()?.heap.peek();
  }

  /** Takes the next entry to serve and charges its class one stride. */
  shift(): QueueEntry<T> | undefined {
    const line = this.#nextLine();
    const entry = line?.heap.peek();
    if (!line || !entry) return undefined;
    line.heap.remove(entry);
    this.#size--;
    this.#virtualTime = line.pass;
    line.pass += line.stride;
    return entry;
  }

  /** Every entry waiting, in no particular order. */
  *entries(): IterableIterator<QueueEntry<T>> {
    for (const priority of PRIORITY_CLASSES) yield* this.#lines[priority].heap.items;
  }

  /**
   * The entries of each class in serving order, with each class's share of service while the
   * classes now backlogged stay so: what an estimate of each entry's wait needs.
   */
  ordered(): { priority: PriorityClass; share: number; entries: QueueEntry<T>[] }[] {
    const total = this.#backloggedWeight();
    const out = [];
    for (const priority of PRIORITY_CLASSES) {
      const heap = this.#lines[priority].heap;
      if (heap.size === 0) continue;
      const entries = [...heap.items].sort((a, b) => before(a, b) ? -1 : 1);
      out.push({ priority, share: this.#weights[priority] / total, entries });
    }
    return out;
  }

  /**
   * About how many entries are served before one of `priority` that has `ahead` entries of its
   * class before it: its class gets its weight's share of turns, and no more turns pass than
   * there are entries.
   */
  servedBefore(priority: PriorityClass, ahead: number): number {
    const total = this.#backloggedWeight(priority);
    const share = this.#weights[priority] / total;
    return Math.min((ahead + 1) / share, this.#size + 1) - 1;
  }

  #backloggedWeight(including?: PriorityClass): number {
    let total = 0;
    for (const priority of PRIORITY_CLASSES) {
      if (priority === including || this.#lines[priority].heap.size > 0) {
        total += this.#weights[priority];
      }
    }
    return total;
  }

  #insert(entry: QueueEntry<T>): void {
    const line = this.#lines[entry.priority];
    if (line.heap.size === 0 && line.pass < this.#virtualTime) line.pass = this.#virtualTime;
    line.heap.push(entry);
    this.#size++;
  }

  #nextLine(): ClassLine<T> | undefined {
    let best: ClassLine<T> | undefined;
    for (const priority of PRIORITY_CLASSES) {
      const line = this.#lines[priority];
      if (line.heap.size > 0 && (best === undefined || line.pass < best.pass)) best = line;
    }
    return best;
  }
}
