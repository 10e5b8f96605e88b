/**
 * The sessions of a gateway process: creating, reading, listing, extending and deleting them in
 * KV, and running their turns through one SessionActor per session in use.
 */
import type { SessionsConfig } from "../../config/mod.ts";
import { type ActorRef, type ActorSystem, address, retryKvBusy } from "../runtime/mod.ts";
import { compressorFor } from "./compression/mod.ts";
import type { ContextMessage, Summarizer } from "./compression/types.ts";
import { type Refusal, sessionLimits } from "./limits.ts";
import type { ChatMessage } from "./messages.ts";
import {
  type CompressionSettings,
  isSessionId,
  keys,
  newSessionId,
  type SessionHead,
  type SessionLimits,
  type TurnRecord,
  unturnedHead,
} from "./records.ts";
import { expireSession, expiryTimerId, MAX_TIMER_DELAY_MS, REAPER_ADDRESS } from "./reaper.ts";
import {
  type BeginResult,
  type CommitResult,
  endedRefusal,
  SESSION_KIND,
  sessionBehavior,
  type SessionDeps,
  type SessionMessage,
  type TurnOutcome,
  type TurnPlan,
  type TurnRequest,
} from "./session_actor.ts";
import type { Page, SessionFilter, SessionStore, VersionedHead } from "./store.ts";
import { currentOwner, visibleToOwner } from "./owner.ts";

/** Sessions whose client the owner check remembers. */
const OWNERS_KEPT = 50_000;

/** A Map that forgets its oldest entry past `capacity`. */
class BoundedMap<K, V> extends Map<K, V> {
  readonly #capacity: number;
  /** @param capacity the most entries kept */
  constructor(capacity: number) {
    super();
    this.#capacity = capacity;
  }
  override set(key: K, value: V): this {
    if (!this.has(key) && this.size >= this.#capacity) {
      this.delete(this.keys().next().value as K);
    }
    return super.set(key, value);
  }
}

/** What `POST /v1/sessions` asks for, validated. */
export interface CreateSession {
  model: string;
  system?: string | null | undefined;
  metadata?: Record<string, string> | undefined;
  task_id?: string | null | undefined;
  client_id?: string | null | undefined;
  ttl_seconds?: number | undefined;
  on_busy?: "reject" | "queue" | undefined;
  compression?:
    | { [K in keyof CompressionSettings]?: CompressionSettings[K] | undefined }
    | undefined;
  limits?: { [K in keyof SessionLimits]?: SessionLimits[K] | undefined } | undefined;
  /** A caller-chosen id (a session header's value); a new opaque one when absent. */
  id?: string | undefined;
  source?: SessionHead["source"] | undefined;
}

/** A plain chat call to record into its session. */
export interface PlainCall {
  model: string;
  messages: ChatMessage[];
  output: TurnOutcome["output"];
  finishReason: string | null;
  usage: TurnOutcome["usage"];
  backend: string | null;
  requestId: string;
  taskId?: string | undefined;
  clientId?: string | undefined;
}

/** Options of {@linkcode SessionService}. */
export interface SessionServiceOptions {
  system: ActorSystem;
  store: SessionStore;
  config: SessionsConfig;
  /** The prompt budget of a model when the session and config set none. */
  budgetOf(model: string): number;
  countMessage(message: ChatMessage): number;
  /** Summaries through the gateway, for the summarize and hierarchical methods. */
  summarizer?(model: string): Summarizer | undefined;
  /** Longest wait of a queued turn, in ms. */
  queueTimeoutMs: number;
  now?: () => number;
  /** Heartbeat period of this process's liveness key, in ms. @default 2000 */
  heartbeatMs?: number;
}

/** A session or why not. */
export type Found = { ok: true; found: VersionedHead } | { ok: false; refusal: Refusal };

/** A gateway process's sessions. */
export class SessionService {
  readonly store: SessionStore;
  readonly config: SessionsConfig;
  readonly #system: ActorSystem;
  readonly #options: SessionServiceOptions;
  readonly #now: () => number;
  readonly #running = new Map<string, TurnPlan>();
  /** The client of each session read lately, for the owner check of a turn (a client never changes). */
  readonly #owners = new BoundedMap<string, string | null>(OWNERS_KEPT);
  readonly #behavior;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  /**
   * Since when no other gateway process's heartbeat was fresh at this one's beats; undefined while
   * one was (and until the first beat).
   */
  #aloneSince: number | undefined;
  #cancelPoll: ReturnType<typeof setInterval> | undefined;
  /** The tail of each session's queue of head edits made here (see {@linkcode exclusive}). */
  readonly #edits = new Map<string, Promise<unknown>>();

  /** @param options the store, config and helpers */
  constructor(options: SessionServiceOptions) {
    this.#options = options;
    this.#system = options.system;
    this.store = options.store;
    this.config = options.config;
    this.#now = options.now ?? Date.now;
    const deps: SessionDeps = {
      store: options.store,
      nodeId: options.system.nodeId,
      now: this.#now,
      countMessage: options.countMessage,
      compress: (head, system, context, targetTokens) =>
        compressorFor(head.compression.method as Exclude<typeof head.compression.method, "none">)
          .compress({
            system,
            context: context.items,
            targetTokens,
            keepRecentTurns: head.compression.keep_recent_turns,
            countMessage: options.countMessage,
            summaries: context.summaries,
            ...withSummarizer(options.summarizer?.(head.model)),
          }),
      nodeAlive: (node) => this.#nodeAlive(node),
      aloneSince: () => this.#aloneSince,
      idleMs: options.config.idle_passivate * 1000,
      onExpire: options.config.on_expire,
      queueTimeoutMs: options.queueTimeoutMs,
      running: this.#running,
    };
    this.#behavior = sessionBehavior(deps);
  }

  /** Starts the liveness heartbeat and the cross-process cancel watch. */
  async start(): Promise<void> {
    const period = this.#options.heartbeatMs ?? 2_000;
    await this.#beat(period);
    // Processes already on the store run their turns unclaimed while they are alone: before this
    // one serves, each must have seen its heartbeat (at their next beat) and claim from then on.
    if (this.#aloneSince === undefined) await new Promise((r) => setTimeout(r, period + 250));
    this.#heartbeat = setInterval(() => void this.#beat(period).catch(() => {}), period);
    this.#cancelPoll = setInterval(() => void this.#pollCancels().catch(() => {}), 250);
  }

  /** Stops the timers and removes this process's liveness key. */
  async close(): Promise<void> {
    clearInterval(this.#heartbeat);
    clearInterval(this.#cancelPoll);
    await this.store.kv.delete(keys.node(this.#system.nodeId)).catch(() => {});
  }

  /** Creates a session; a refusal when a limit forbids it or the id is taken. */
  async create(request: CreateSession): Promise<
    { ok: true; head: SessionHead; versionstamp: string } | {
      ok: false;
      refusal: Refusal;
    }
  > {
    const cfg = this.config;
    const now = this.#now();
    const ttl = request.ttl_seconds ?? cfg.default_ttl;
    if (ttl > cfg.max_ttl) {
      return refuse(400, "invalid_ttl", `ttl_seconds is at most ${cfg.max_ttl}`, "ttl_seconds");
    }
    const owner = currentOwner();
    if (owner !== undefined && request.client_id != null && request.client_id !== owner) {
      return refuse(
        403,
        "client_id_not_allowed",
        `client_id must be your own ("${owner}"): sessions belong to the client that makes them`,
        "client_id",
      );
    }
    const clientId = owner ?? request.client_id ?? null;
    const base = cfg.compression;
    const compression: CompressionSettings = {
      method: request.compression?.method ?? base.method,
      budget_tokens: request.compression?.budget_tokens ?? base.budget_tokens ??
        this.#options.budgetOf(request.model),
      threshold: request.compression?.threshold ?? base.threshold,
      target: request.compression?.target ?? base.target,
      keep_recent_turns: request.compression?.keep_recent_turns ?? base.keep_recent_turns,
    };
    if (compression.target >= compression.threshold) {
      return refuse(
        400,
        "invalid_compression",
        "compression.target must be below compression.threshold",
        "compression.target",
      );
    }
    const limits = sessionLimits(request.limits, cfg.limits);
    const head: SessionHead = {
      v: 1,
      id: request.id ?? newSessionId(),
      model: request.model,
      system: request.system ?? null,
      metadata: request.metadata ?? {},
      task_id: request.task_id ?? null,
      client_id: clientId,
      source: request.source ?? "api",
      state: "active",
      created_at_ms: now,
      updated_at_ms: now,
      expires_at_ms: now + ttl * 1000,
      ttl_seconds: ttl,
      on_busy: request.on_busy ?? "reject",
      compression,
      limits,
      ...unturnedHead(),
    };
    for (let attempt = 0; attempt < 20; attempt++) {
      const limited = await this.#checkActiveLimits(clientId);
      if (limited) return { ok: false, refusal: limited };
      // The caps go into the commit too: a concurrent create that took the last place fails it.
      // So does the expiry timer: no session without its timer, no timer without its session.
      const vs = await this.store.commit(head, null, {
        active: {
          delta: 1,
          clientId,
          max: cfg.limits.max_sessions,
          maxOfClient: cfg.limits.max_sessions_per_client,
        },
        also: this.#expiryTimer(head),
      });
      if (vs !== undefined) return { ok: true, head, versionstamp: vs };
      if (await this.store.get(head.id)) {
        return refuse(409, "session_exists", `Session ${head.id} already exists`, "id");
      }
    }
    return refuse(503, "session_store_busy", "The session store is busy; retry", null, 1);
  }

  /**
   * The session `id`, or a 404 refusal for a bad or unknown id. One past its TTL is expired here
   * and now when its timer is late (as after a restart), so a read never shows it active: with
   * `on_expire: delete` it is a 404 `session_expired`, with `archive` the archived session.
   */
  async get(id: string): Promise<Found> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const found = await this.#read(id);
      if (!found.ok) return found;
      const { head } = found.found;
      if (head.state !== "active" || head.expires_at_ms > this.#now()) return found;
      // Done here as its timer will do it (which then finds nothing left to do).
      if (await expireSession(this.store, found.found, this.config.on_expire, this.#now())) {
        this.forget(id);
        if (this.config.on_expire === "delete") {
          return { ok: false, refusal: notFound(id, "its TTL passed") };
        }
      }
    }
    return {
      ok: false,
      refusal: refusal(503, "session_store_busy", "The session store is busy; retry", null, 1),
    };
  }

  /** The head of `id` as it is in KV, past its TTL or not. */
  async #read(id: string): Promise<Found> {
    if (!isSessionId(id)) return { ok: false, refusal: notFound(id) };
    const found = await this.store.get(id);
    if (!found || !visibleToOwner(found.head.client_id)) {
      return { ok: false, refusal: notFound(id) };
    }
    this.#owners.set(id, found.head.client_id);
    return { ok: true, found };
  }

  /**
   * A page of sessions. One past its TTL whose timer has not fired yet reads as its timer will
   * leave it: gone when expired sessions are deleted, else expired.
   */
  async list(
    filter: SessionFilter,
    options: { after?: string; limit: number },
  ): Promise<Page<SessionHead>> {
    const owner = currentOwner();
    if (owner !== undefined) {
      // Another client's sessions are not listed, whatever the filter asks.
      if (filter.client_id !== undefined && filter.client_id !== owner) {
        return { items: [], next: undefined };
      }
      filter = { ...filter, client_id: owner };
    }
    const page = await this.store.list(filter, options);
    const now = this.#now();
    const items: SessionHead[] = [];
    for (const head of page.items) {
      if (head.state !== "active" || head.expires_at_ms > now) items.push(head);
      else if (this.config.on_expire === "archive" && filter.state !== "active") {
        items.push({ ...head, state: "expired" });
      }
    }
    return { ...page, items };
  }

  /** A page of turns of `id` after turn `after`. */
  history(id: string, after: number, limit: number): Promise<Page<TurnRecord>> {
    return this.store.turnPage(id, after, limit);
  }

  /**
   * Runs `edit` of session `id`'s head after the edits of `id` this process already runs: many
   * concurrent extends of one session then commit one after another instead of failing each
   * other's versionstamp checks until they give up. Turns and other processes still race them,
   * and the optimistic retries inside each edit handle those.
   */
  exclusive<T>(id: string, edit: () => Promise<T>): Promise<T> {
    const before = this.#edits.get(id) ?? Promise.resolve();
    const done = before.then(edit, edit);
    const tail = done.then(() => {}, () => {});
    this.#edits.set(id, tail);
    tail.then(() => {
      if (this.#edits.get(id) === tail) this.#edits.delete(id);
    });
    return done;
  }

  /** Pushes the expiry of `id` to now + `ttlSeconds` (the session's TTL when absent). */
  extend(id: string, ttlSeconds?: number): Promise<Found> {
    return this.exclusive(id, () => this.#extend(id, ttlSeconds));
  }

  async #extend(id: string, ttlSeconds?: number): Promise<Found> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const found = await this.get(id);
      if (!found.ok) return found;
      const { head, versionstamp } = found.found;
      const ended = endedRefusal(head, this.#now(), this.config.on_expire);
      if (ended) return { ok: false, refusal: ended };
      const ttl = ttlSeconds ?? head.ttl_seconds;
      if (ttl > this.config.max_ttl) {
        return {
          ok: false,
          refusal: refusal(
            400,
            "invalid_ttl",
            `ttl_seconds is at most ${this.config.max_ttl}`,
            "ttl_seconds",
          ),
        };
      }
      const now = this.#now();
      const next = {
        ...head,
        expires_at_ms: now + ttl * 1000,
        ttl_seconds: ttl,
        updated_at_ms: now,
      };
      const vs = await this.store.commit(next, versionstamp, { also: this.#expiryTimer(next) });
      if (vs === undefined) continue;
      this.#tell(id, { type: "forget" });
      return { ok: true, found: { head: next, versionstamp: vs } };
    }
    return {
      ok: false,
      refusal: refusal(503, "session_store_busy", "The session store is busy; retry", null, 1),
    };
  }

  /** Deletes `id` and its turns; a turn in flight is cancelled first. */
  delete(id: string): Promise<Found> {
    return this.exclusive(id, () => this.#delete(id));
  }

  async #delete(id: string): Promise<Found> {
    for (let attempt = 0; attempt < 20; attempt++) {
      // As it is in KV: one past its TTL is deleted too, and leaves the counters once.
      const found = await this.#read(id);
      if (!found.ok) return found;
      const { head, versionstamp } = found.found;
      this.#running.get(id)?.cancel.abort("cancel");
      if (await this.store.remove(head, versionstamp, head.state === "active")) {
        this.forget(id);
        return found;
      }
    }
    return {
      ok: false,
      refusal: refusal(503, "session_store_busy", "The session store is busy; retry", null, 1),
    };
  }

  /**
   * Cancels the turn in flight of `id`: here at once, in another gateway process through a KV key
   * it polls. Returns the turn number, or null when no turn runs.
   */
  async cancel(
    id: string,
  ): Promise<{ ok: true; turn: number | null } | { ok: false; refusal: Refusal }> {
    const found = await this.#read(id);
    if (!found.ok) return found;
    const local = this.#running.get(id);
    if (local) {
      local.cancel.abort("cancel");
      return { ok: true, turn: local.turn };
    }
    const inflight = found.found.head.inflight;
    if (!inflight || !(await this.#nodeAlive(inflight.node))) return { ok: true, turn: null };
    // The key names the claim it is for: a turn that takes this number after that claim is
    // given up (its process died, or the turn failed unsaved) is not cancelled by it.
    await retryKvBusy(() =>
      this.store.kv.set(keys.cancel(id, inflight.turn), claimOf(inflight), { expireIn: 600_000 })
    );
    return { ok: true, turn: inflight.turn };
  }

  /** Checks and claims a turn of `id`: the prompt to send, or why not. */
  async begin(id: string, request: TurnRequest): Promise<BeginResult> {
    if (!isSessionId(id)) return { ok: false, refusal: notFound(id) };
    if (currentOwner() !== undefined) {
      // A session's client never changes: its owner is read once, then known.
      const known = this.#owners.get(id);
      if (known === undefined) {
        const found = await this.#read(id);
        if (!found.ok) return found;
      } else if (!visibleToOwner(known)) return { ok: false, refusal: notFound(id) };
    }
    return await this.#ref(id).ask<BeginResult>(
      { type: "begin", request },
      { timeoutMs: this.#options.queueTimeoutMs + 30_000 },
    );
  }

  /** Appends a claimed turn and frees the session, in one commit. */
  commit(plan: TurnPlan, outcome: TurnOutcome): Promise<CommitResult> {
    return this.#ref(plan.sessionId).ask<CommitResult>({ type: "commit", plan, outcome }, {
      timeoutMs: 30_000,
    });
  }

  /**
   * Appends `messages` as a turn without asking a model (conversation items added by a client):
   * the same checks, claim and commit as a turn, with no reply.
   */
  async append(
    id: string,
    request: TurnRequest,
  ): Promise<CommitResult | { ok: false; refusal: Refusal }> {
    const begun = await this.begin(id, request);
    if (!begun.ok) return begun;
    return await this.commit(begun.plan, {
      status: "completed",
      output: null,
      finishReason: null,
      usage: { prompt_tokens: 0, completion_tokens: 0, cached_tokens: 0 },
      backend: null,
    });
  }

  /**
   * Records a plain `/v1/chat/completions` call that carried the session header: the client sent
   * its whole prompt, so only the messages past what the session holds are new (all of them when
   * the prompt does not continue the session). The session is made on first use. Best effort: a
   * call that cannot be recorded (a bad id, a busy session past a few tries) is only logged.
   */
  async recordPlain(id: string, call: PlainCall): Promise<boolean> {
    if (!isSessionId(id)) return false;
    // The session's actor answers from the head it holds while this process is alone on the store.
    let found = (await this.#ref(id).ask<VersionedHead | null>({ type: "head" }, {
      timeoutMs: 30_000,
    })) ?? undefined;
    // Another client's session is not written into (the call itself was served).
    if (found && !visibleToOwner(found.head.client_id)) return false;
    if (!found) {
      const made = await this.create({
        id,
        model: call.model,
        source: "header",
        task_id: call.taskId ?? null,
        client_id: call.clientId ?? null,
        compression: { method: "none" },
      });
      if (made.ok) {
        // The head just written: neither this read nor the first turn's reads it back.
        found = { head: made.head, versionstamp: made.versionstamp };
        this.#tell(id, { type: "seed", found });
      } else {
        if (made.refusal.code !== "session_exists") return false;
        found = await this.store.get(id);
        if (!found) return false;
      }
    }
    // The head keeps what the last turn held (heads written before it did say so in the turn).
    let held = found.head.last_prompt_messages;
    if (held === undefined) {
      const last = found.head.next_turn > 1
        ? await this.store.turn(id, found.head.next_turn - 1)
        : undefined;
      held = typeof last?.extra?.prompt_messages === "number" ? last.extra.prompt_messages : 0;
    }
    const continues = held > 0 && call.messages.length > held;
    const messages = continues ? call.messages.slice(held) : call.messages;
    const request: TurnRequest = {
      messages,
      source: "chat_completions",
      requestId: call.requestId,
      recordOnly: true,
      extra: { prompt_messages: call.messages.length + 1, full_prompt: !continues },
    };
    for (let attempt = 0; attempt < 20; attempt++) {
      const begun = await this.begin(id, request);
      if (begun.ok) {
        const done = await this.commit(begun.plan, {
          status: "completed",
          output: call.output,
          finishReason: call.finishReason,
          usage: call.usage,
          backend: call.backend,
        });
        return done.ok;
      }
      if (begun.refusal.code !== "session_busy") return false;
      await new Promise((r) => setTimeout(r, 25 * (attempt + 1)));
    }
    return false;
  }

  /** Frees a claimed turn that failed before any reply (nothing is appended). */
  async abandon(plan: TurnPlan): Promise<void> {
    await this.#ref(plan.sessionId).ask({ type: "abandon", plan }, { timeoutMs: 30_000 });
  }

  /** Live session actors in this process. */
  get liveActors(): number {
    return this.#system.countOf(SESSION_KIND);
  }

  /** The turn running for `id` in this process, if any. */
  running(id: string): TurnPlan | undefined {
    return this.#running.get(id);
  }

  /** Drops the cache of a session changed elsewhere (expired, deleted). */
  forget(id: string): void {
    this.#owners.delete(id);
    this.#tell(id, { type: "forget" });
  }

  #ref(id: string): ActorRef<SessionMessage> {
    const addr = address(SESSION_KIND, id);
    if (this.#system.has(addr)) return this.#system.ref(addr);
    return this.#system.spawn(this.#behavior, id, { restart: "transient" });
  }

  #tell(id: string, msg: SessionMessage): void {
    const addr = address(SESSION_KIND, id);
    if (this.#system.has(addr)) this.#system.ref<SessionMessage>(addr).tell(msg);
  }

  async #checkActiveLimits(clientId: string | null): Promise<Refusal | undefined> {
    const { max_sessions, max_sessions_per_client } = this.config.limits;
    if (max_sessions !== undefined && (await this.store.activeCount()) >= max_sessions) {
      return refusal(
        429,
        "max_sessions_exceeded",
        `The gateway holds ${max_sessions} active sessions, its sessions.limits.max_sessions; delete one or wait for one to expire`,
        null,
        30,
      );
    }
    if (
      clientId && max_sessions_per_client !== undefined &&
      (await this.store.activeCount(clientId)) >= max_sessions_per_client
    ) {
      return refusal(
        429,
        "max_sessions_per_client_exceeded",
        `Client ${clientId} holds ${max_sessions_per_client} active sessions, its sessions.limits.max_sessions_per_client; delete one or wait for one to expire`,
        null,
        30,
      );
    }
    return undefined;
  }

  /** Adds the durable timer that expires `head` at its `expires_at_ms` to a commit. */
  #expiryTimer(head: SessionHead): (op: Deno.AtomicOperation) => void {
    return (op) => {
      const delayMs = Math.max(0, Math.min(head.expires_at_ms - this.#now(), MAX_TIMER_DELAY_MS));
      this.#system.tellDurableIn(
        op,
        REAPER_ADDRESS,
        { type: "expire", session: head.id, at_ms: head.expires_at_ms },
        { delayMs, id: expiryTimerId(head.id, head.expires_at_ms) },
      );
    };
  }

  /**
   * Whether another gateway process's heartbeat was fresh at this one's last beat (also before
   * the first beat, when it is not known yet).
   */
  get othersPresent(): boolean {
    return this.#aloneSince === undefined;
  }

  /**
   * Since when (ms) this process's beats have seen no other gateway process on the store;
   * undefined while one may be there, or before the first beat.
   */
  get aloneSince(): number | undefined {
    return this.#aloneSince;
  }

  async #beat(periodMs: number): Promise<void> {
    const now = this.#now();
    const expires_at_ms = now + periodMs * 3;
    await retryKvBusy(() =>
      this.store.kv.set(keys.node(this.#system.nodeId), { expires_at_ms }, {
        expireIn: periodMs * 10,
      })
    );
    let others = false;
    for await (
      const entry of this.store.kv.list<{ expires_at_ms?: unknown }>({ prefix: keys.nodes })
    ) {
      const alive = typeof entry.value?.expires_at_ms === "number" &&
        entry.value.expires_at_ms > now;
      if (alive && entry.key.at(-1) !== this.#system.nodeId) others = true;
    }
    if (others) this.#aloneSince = undefined;
    else this.#aloneSince ??= now;
  }

  async #nodeAlive(node: string): Promise<boolean> {
    const entry = await this.store.kv.get<{ expires_at_ms: number }>(keys.node(node));
    const value = entry.value;
    return typeof value?.expires_at_ms === "number" && value.expires_at_ms > this.#now();
  }

  async #pollCancels(): Promise<void> {
    if (this.#running.size === 0) return;
    const plans = [...this.#running.values()];
    for (let i = 0; i < plans.length; i += 10) {
      const batch = plans.slice(i, i + 10);
      const entries = await this.store.kv.getMany(
        batch.map((p) => keys.cancel(p.sessionId, p.turn)),
      );
      entries.forEach((entry, j) => {
        const plan = batch[j]!;
        if (plan.head.inflight && entry.value === claimOf(plan.head.inflight)) {
          plan.cancel.abort("cancel");
        }
      });
    }
  }
}

/** Names one claim of a turn: the process that made it and when. */
function claimOf(inflight: NonNullable<SessionHead["inflight"]>): string {
  return `${inflight.node}@${inflight.started_at_ms}`;
}

function withSummarizer(summarize: Summarizer | undefined): { summarize?: Summarizer } {
  return summarize ? { summarize } : {};
}

function notFound(id: string, why = "no such session"): Refusal {
  return {
    status: 404,
    code: why === "no such session" ? "session_not_found" : "session_expired",
    message: `Session ${
      JSON.stringify(id.slice(0, 140))
    } not found (${why}); create one with POST /v1/sessions`,
    param: "session_id",
  };
}

function refusal(
  status: number,
  code: string,
  message: string,
  param: string | null = null,
  retryAfter?: number,
): Refusal {
  return retryAfter === undefined
    ? { status, code, message, param }
    : { status, code, message, param, retryAfter };
}

function refuse(
  status: number,
  code: string,
  message: string,
  param: string | null = null,
  retryAfter?: number,
): { ok: false; refusal: Refusal } {
  return { ok: false, refusal: refusal(status, code, message, param, retryAfter) };
}

export type { ContextMessage };
