/**
 * Run-time routing shared through KV by every gateway process on one store: one entry per model
 * (and one for the default of models added later), each written whole by the process that
 * changed it and read back by the others on a timer. An entry names the `proxy.strategy` its
 * writer started with, so a process started on another config keeps its own.
 */
import { z } from "zod";
import { StrategySchema } from "../../../config/schema.ts";
import type { StrategySpec } from "../../../actors/router/strategies/mod.ts";
import type { RoutingEvent } from "../api_types.ts";

const PREFIX = ["turnpike", "routing"] as const;
const DEFAULT_KEY = "\u0000default";

const EventSchema = z.object({
  at: z.string(),
  kind: z.enum(["set", "canary_started", "promoted", "rolled_back"]),
  from: StrategySchema,
  to: StrategySchema,
  reason: z.string(),
  canary_burn: z.number().nullable().optional(),
  incumbent_burn: z.number().nullable().optional(),
});

const CanarySchema = z.object({
  strategy: StrategySchema,
  incumbent: StrategySchema,
  share: z.number(),
  windowS: z.number(),
  startedAtMs: z.number(),
  endsAtMs: z.number(),
  /** The process that started it, which judges it. */
  node: z.string(),
});

/** One model's routing (or the default's: no canary, no history), as stored. */
export const SharedEntrySchema = z.object({
  /** The `proxy.strategy` label of the process that wrote it. */
  base: z.string(),
  strategy: StrategySchema,
  canary: CanarySchema.nullable(),
  history: z.array(EventSchema),
});

/** A stored canary. */
export type SharedCanary = z.infer<typeof CanarySchema>;

/** A stored entry. */
export interface SharedEntry {
  base: string;
  strategy: StrategySpec;
  canary: SharedCanary | null;
  history: RoutingEvent[];
}

/** A key for strategies that tells weights apart (a label joins names only). */
export function specKey(spec: StrategySpec): string {
  return typeof spec === "string"
    ? spec
    : JSON.stringify(Object.entries(spec).sort(([a], [b]) => a.localeCompare(b)));
}

/** The entries changed since the last read, by model (`default` for the default's). */
export interface SharedChanges {
  models: Map<string, SharedEntry>;
  default: SharedEntry | undefined;
}

/** Reads and writes the shared routing entries, remembering which versions this process has seen. */
export class SharedRouting {
  readonly #kv: Deno.Kv;
  readonly #base: string;
  readonly #seen = new Map<string, string>();
  #writes: Promise<void> = Promise.resolve();

  /** @param kv the store, @param base this process's `proxy.strategy` label */
  constructor(kv: Deno.Kv, base: string) {
    this.#kv = kv;
    this.#base = base;
  }

  /** Writes `entry` for `model` (undefined: the default), after the writes queued before it. */
  write(model: string | undefined, entry: Omit<SharedEntry, "base">): Promise<void> {
    const name = model ?? DEFAULT_KEY;
    const value: SharedEntry = { base: this.#base, ...entry };
    this.#writes = this.#writes.then(async () => {
      const result = await this.#kv.set([...PREFIX, name], value);
      this.#seen.set(name, result.versionstamp);
    });
    return this.#writes;
  }

  /** The entries written by other processes (or before this one started) that it has not seen yet. */
  async changes(): Promise<SharedChanges> {
    await this.#writes;
    const out: SharedChanges = { models: new Map(), default: undefined };
    for await (const item of this.#kv.list({ prefix: [...PREFIX] })) {
      const name = item.key[PREFIX.length];
      if (typeof name !== "string" || this.#seen.get(name) === item.versionstamp) continue;
      this.#seen.set(name, item.versionstamp);
      const parsed = SharedEntrySchema.safeParse(item.value);
      // Another version's entry, or one from a process started on another proxy.strategy.
      if (!parsed.success || parsed.data.base !== this.#base) continue;
      const entry = parsed.data as SharedEntry;
      if (name === DEFAULT_KEY) out.default = entry;
      else out.models.set(name, entry);
    }
    return out;
  }
}
