/**
 * Backend registrations made through the admin API, kept in KV so that every gateway process on
 * the store routes to them, and a restart finds them again.
 */
import { Repeating } from "../runtime/repeating.ts";
import { z } from "zod";
import { retryKvBusy } from "../runtime/mod.ts";
import type { Fleet } from "./fleet.ts";
import { trimUrl } from "./router_actor.ts";

const PREFIX = ["registration"] as const;

/** One registration as KV keeps it, under `["registration", id, model]`. */
export const RegistrationSchema = z.object({
  id: z.string(),
  model: z.string(),
  url: z.string(),
  /** Time without a heartbeat after which it lapses, in ms. */
  ttl_ms: z.number().positive(),
  /** The gateway process (actor system node id) that took the latest `POST /api/backends`. */
  node: z.string(),
  registered_at_ms: z.number(),
  expires_at_ms: z.number(),
});

/** A parsed registration. */
export type Registration = z.infer<typeof RegistrationSchema>;

/** A backend to register. */
export interface RegisterBackend {
  id: string;
  url: string;
  /** Time without a heartbeat after which it lapses, in ms. */
  ttlMs: number;
}

/** What `register` and `heartbeat` answer. */
export interface RegistrationResult {
  id: string;
  /** False when it was registered already with this URL (the registration was a heartbeat). */
  created: boolean;
  /** When it lapses without another heartbeat; undefined for a configured or launched backend. */
  expiresAtMs: number | undefined;
}

/** Options of {@linkcode Registrations}. */
export interface RegistrationsOptions {
  /** This gateway process, recorded on the registrations it takes. */
  nodeId: string;
  /** Time between reads of the registrations in KV, in ms. @default 1000 */
  syncMs?: number;
  /** Clock in ms since the epoch. @default Date.now */
  now?: () => number;
}

function keyOf(id: string, model: string): Deno.KvKey {
  return [...PREFIX, id, model];
}

/**
 * The registrations in KV and this process's fleet kept in step with them. The admin API writes
 * KV first and then the local fleet; a timer (every `syncMs`, off the hot path) reads KV and adds,
 * refreshes or removes the fleet's registered backends, so a registration, heartbeat or
 * deregistration through any process reaches every other within about `syncMs`. Polled, not
 * watched: `kv.watch` does not see other processes' writes to a local file.
 */
export class Registrations {
  readonly #kv: Deno.Kv;
  readonly #fleet: Fleet;
  readonly #node: string;
  readonly #syncMs: number;
  readonly #now: () => number;
  #known = new Map<string, Registration>();
  /** Every KV read-modify-write and sync, one at a time, so a sync never undoes a registration it did not see. */
  #queue: Promise<unknown> = Promise.resolve();
  readonly #repeat: Repeating;

  /** @param kv the store every gateway process opens, @param fleet this process's routers */
  constructor(kv: Deno.Kv, fleet: Fleet, options: RegistrationsOptions) {
    this.#kv = kv;
    this.#fleet = fleet;
    this.#node = options.nodeId;
    this.#syncMs = options.syncMs ?? 1_000;
    this.#now = options.now ?? Date.now;
    this.#repeat = new Repeating(() => this.sync(), {
      intervalMs: this.#syncMs,
      what: "read the backend registrations in KV",
      now: this.#now,
    });
  }

  /** Routes to the registrations already in KV, then keeps in step every `syncMs`. */
  async start(): Promise<void> {
    await this.sync();
    this.#repeat.start();
  }

  /** Stops the timer, after the operation under way. */
  async close(): Promise<void> {
    this.#repeat.stop();
    await this.#queue.catch(() => {});
  }

  /** The registration of `id` for `model` as last read or written here. */
  of(id: string, model: string): Registration | undefined {
    return this.#known.get(JSON.stringify(keyOf(id, model)));
  }

  /** Registers backend `id` of `model` (or refreshes it: same URL) in KV, then in this process's fleet. */
  register(model: string, backend: RegisterBackend): Promise<RegistrationResult> {
    return this.#serial(async () => {
      const key = keyOf(backend.id, model);
      const before = this.#live(await this.#kv.get(key));
      const t = this.#now();
      const created = before?.url !== trimUrl(backend.url);
      const registration: Registration = {
        id: backend.id,
        model,
        url: trimUrl(backend.url),
        ttl_ms: backend.ttlMs,
        node: this.#node,
        registered_at_ms: before && !created ? before.registered_at_ms : t,
        expires_at_ms: t + backend.ttlMs,
      };
      await this.#kv.set(key, registration, { expireIn: backend.ttlMs });
      this.#known.set(JSON.stringify(key), registration);
      await this.#route(registration);
      return { id: backend.id, created, expiresAtMs: registration.expires_at_ms };
    });
  }

  /**
   * Refreshes the TTL of every registration of `id` (it may serve several models), in KV and
   * here; a configured or launched backend answers as known with no expiry. Undefined when
   * nothing of that id is registered or routed.
   */
  heartbeat(id: string): Promise<RegistrationResult | undefined> {
    return this.#serial(async () => {
      const live = await this.#registrationsOf(id);
      if (live.length === 0) {
        const fixed = this.#fleet.backends().some((b) => b.id === id && b.source !== "registered");
        if (!fixed) return undefined;
        return { id, created: false, expiresAtMs: undefined };
      }
      const t = this.#now();
      let expiresAtMs = 0;
      for (const { entry, registration } of live) {
        const refreshed = { ...registration, expires_at_ms: t + registration.ttl_ms };
        // A registration changed meanwhile by another process was refreshed by that change.
        await this.#kv.atomic().check(entry).set(entry.key, refreshed, {
          expireIn: registration.ttl_ms,
        }).commit();
        this.#known.set(JSON.stringify(entry.key), refreshed);
        await this.#route(refreshed);
        expiresAtMs = Math.max(expiresAtMs, refreshed.expires_at_ms);
      }
      return { id, created: false, expiresAtMs };
    });
  }

  /** Deregisters `id` from KV and removes it from this process's fleet; false when it was neither. */
  deregister(id: string): Promise<boolean> {
    return this.#serial(async () => {
      const live = await this.#registrationsOf(id);
      const all = await Array.fromAsync(this.#kv.list({ prefix: [...PREFIX, id] }));
      if (all.length > 0) {
        const op = this.#kv.atomic();
        for (const entry of all) op.delete(entry.key);
        await op.commit();
      }
      for (const entry of all) this.#known.delete(JSON.stringify(entry.key));
      const removed = await this.#fleet.removeBackend(id);
      return live.length > 0 || removed;
    });
  }

  /** Reads every registration in KV and brings this process's fleet in step with them. */
  sync(): Promise<void> {
    return this.#serial(async () => {
      const t = this.#now();
      const wanted = new Map<string, Registration>();
      for await (const entry of this.#kv.list({ prefix: PREFIX })) {
        const parsed = RegistrationSchema.safeParse(entry.value);
        if (!parsed.success) continue;
        if (parsed.data.expires_at_ms <= t) {
          // Lapsed: KV deletes an expired key only a while later, so delete it now (unless refreshed).
          await this.#kv.atomic().check(entry).delete(entry.key).commit();
          continue;
        }
        wanted.set(JSON.stringify(entry.key), parsed.data);
      }
      this.#known = wanted;
      const routed = new Map(
        this.#fleet.backends().map((b) => [JSON.stringify(keyOf(b.id, b.model)), b]),
      );
      for (const registration of wanted.values()) {
        const backend = routed.get(JSON.stringify(keyOf(registration.id, registration.model)));
        if (backend && backend.source !== "registered") continue;
        const current = backend !== undefined && backend.url === registration.url &&
          backend.ttlMs === registration.ttl_ms &&
          (backend.expiresAtMs ?? 0) >= registration.expires_at_ms;
        if (!current) await this.#route(registration);
      }
      for (const [key, backend] of routed) {
        if (backend.source === "registered" && !wanted.has(key)) {
          await this.#fleet.removeBackend(backend.id, backend.model);
        }
      }
    });
  }

  /** Adds (or refreshes) the registration in this process's fleet. */
  async #route(registration: Registration): Promise<void> {
    await this.#fleet.addBackend(registration.model, {
      id: registration.id,
      url: registration.url,
      source: "registered",
      ttlMs: registration.ttl_ms,
    });
  }

  async #registrationsOf(
    id: string,
  ): Promise<{ entry: Deno.KvEntry<unknown>; registration: Registration }[]> {
    const live: { entry: Deno.KvEntry<unknown>; registration: Registration }[] = [];
    for await (const entry of this.#kv.list({ prefix: [...PREFIX, id] })) {
      const registration = this.#live(entry);
      if (registration) live.push({ entry, registration });
    }
    return live;
  }

  #live(entry: Deno.KvEntryMaybe<unknown>): Registration | undefined {
    const parsed = RegistrationSchema.safeParse(entry.value);
    if (!parsed.success || parsed.data.expires_at_ms <= this.#now()) return undefined;
    return parsed.data;
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    // Each step is safe to run again, so one that SQLite refused while another process wrote is.
    const retried = () => retryKvBusy(fn);
    const run = this.#queue.then(retried, retried);
    this.#queue = run.catch(() => {});
    return run;
  }
}
