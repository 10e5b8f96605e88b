/** The process's one durable listener: validates arriving messages, activates actors, dispatches. */
import { address as makeAddress, parseAddress } from "../address.ts";
import type { Cell } from "../cell.ts";
import { newId } from "../context.ts";
import { DurableDelivery } from "../envelopes.ts";
import type { AnyBehavior } from "../types.ts";
import { DurableEnvelopeSchema, makeEnvelope } from "./envelope.ts";
import type { KvDurableHost } from "./host.ts";
import { deadLetterKey, snapshotPrefix } from "./keys.ts";
import { acquireLease } from "./lease.ts";
import type { DurableTransport } from "./transport.ts";

/** Where recovery sweeps send the message that wakes the queue listener; dropped on arrival. */
const WAKE_ADDRESS = "system/wake";

/** What the inbox needs from its actor system. */
export interface InboxHost {
  /** Whether the system is stopping (no new deliveries). */
  isStopping(): boolean;
  /** The durable kinds by name. */
  readonly kinds: ReadonlyMap<string, AnyBehavior>;
  /** The live cell at an address. */
  lookup(addr: string): Cell | undefined;
  /** Spawns an activated durable actor under the root, holding `leaseToken`. */
  spawnActivated(behavior: AnyBehavior, id: string, leaseToken: string | null): Cell | undefined;
  /** Reports an error that has no caller to go to. */
  reportError(where: string, error: unknown): void;
}

/** Settings of {@linkcode DurableInbox}. */
export interface InboxOptions {
  /** This node's name in leases. */
  owner: string;
  /** Lease length without a commit, in ms. */
  leaseTtlMs: number;
}

/** Receives durable messages for this process and hands them to the right actor. */
export class DurableInbox {
  readonly #kv: Deno.Kv;
  readonly #transport: DurableTransport;
  readonly #durable: KvDurableHost;
  readonly #host: InboxHost;
  readonly #options: InboxOptions;
  readonly #activating = new Map<string, Promise<Cell | undefined>>();

  /** Creates it. @param kv the store, @param transport the listener's transport, @param durable persistence */
  constructor(
    kv: Deno.Kv,
    transport: DurableTransport,
    durable: KvDurableHost,
    host: InboxHost,
    options: InboxOptions,
  ) {
    this.#kv = kv;
    this.#transport = transport;
    this.#durable = durable;
    this.#host = host;
    this.#options = options;
  }

  /** Starts the transport's listener (once per process). */
  listen(): void {
    this.#transport.listen((raw) => this.#deliver(raw));
  }

  /** Activates every persisted actor of the durable kinds (their leases permitting). */
  async rehydrate(): Promise<void> {
    for (const behavior of this.#host.kinds.values()) {
      if (!behavior.persistence) continue;
      for await (const entry of this.#kv.list({ prefix: snapshotPrefix(behavior.kind) })) {
        const id = entry.key[2];
        if (typeof id === "string" && entry.key.length === 3) await this.#activate(behavior, id);
      }
    }
  }

  /**
   * Makes Deno KV requeue messages orphaned by a crashed process: opening a handle runs its
   * cleanup of in-flight messages past their deadline; a wake message then makes this
   * process's listener look at the queue again.
   */
  async sweep(path: string): Promise<void> {
    if (this.#host.isStopping()) return;
    try {
      const probe = await Deno.openKv(path);
      probe.close();
      if (this.#host.isStopping()) return;
      await this.#transport.send(makeEnvelope(WAKE_ADDRESS, null, { id: newId() }), {
        delayMs: 0,
        deadLetterKey: deadLetterKey("system", "wake", "sweep"),
      });
    } catch (error) {
      if (!this.#host.isStopping()) this.#host.reportError("recovery sweep", error);
    }
  }

  async #deliver(raw: unknown): Promise<void> {
    const parsed = DurableEnvelopeSchema.safeParse(raw);
    if (!parsed.success) {
      this.#host.reportError(
        "durable transport",
        new Error("Dropped a message that is not an actor envelope"),
      );
      return;
    }
    if (this.#host.isStopping()) {
      throw new Error("Actor system is stopping: the message will be redelivered");
    }
    const envelope = parsed.data;
    if (envelope.to === WAKE_ADDRESS) return;
    const { kind, id } = parseAddress(envelope.to);
    const behavior = this.#host.kinds.get(kind);
    if (!behavior) {
      throw new Error(
        `No behaviour for durable kind "${kind}": pass it to ActorSystem.start({ behaviors })`,
      );
    }
    let msg = envelope.msg;
    if (behavior.persistence) {
      const checked = behavior.persistence.messages.safeParse(msg);
      if (!checked.success) {
        this.#host.reportError(
          `durable message ${envelope.id} to ${envelope.to}`,
          new Error(`Invalid message, kept as a dead letter: ${checked.error.issues[0]?.message}`),
        );
        await this.#kv.set(deadLetterKey(kind, id, envelope.id), envelope);
        return;
      }
      msg = checked.data;
    }
    const cell = await this.#activate(behavior, id);
    if (!cell) {
      await this.#durable.forward(envelope.to, new DurableDelivery(envelope.id, msg, () => {}));
      return;
    }
    await new Promise<void>((resolve, reject) => {
      let done = false;
      cell.enqueue(
        new DurableDelivery(envelope.id, msg, (error) => {
          if (done) return;
          done = true;
          if (error) reject(error);
          else resolve();
        }),
      );
    });
  }

  #activate(behavior: AnyBehavior, id: string): Promise<Cell | undefined> {
    const addr = makeAddress(behavior.kind, id);
    const live = this.#host.lookup(addr);
    if (live && !live.stopped) return Promise.resolve(live);
    let pending = this.#activating.get(addr);
    if (!pending) {
      pending = this.#doActivate(behavior, id).finally(() => this.#activating.delete(addr));
      this.#activating.set(addr, pending);
    }
    return pending;
  }

  async #doActivate(behavior: AnyBehavior, id: string): Promise<Cell | undefined> {
    let token: string | null = null;
    if (behavior.persistence) {
      const lease = await acquireLease(this.#kv, { kind: behavior.kind, id }, {
        owner: this.#options.owner,
        ttlMs: this.#options.leaseTtlMs,
      });
      if (!lease.ok) return undefined;
      token = lease.token;
    }
    if (this.#host.isStopping()) return undefined;
    const existing = this.#host.lookup(makeAddress(behavior.kind, id));
    if (existing && !existing.stopped) return existing;
    return this.#host.spawnActivated(behavior, id, token);
  }
}
