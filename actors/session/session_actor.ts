/**
 * SessionActor: one per session in use in this process. It runs one turn at a time: `begin`
 * checks the session, builds the prompt (compacting it when it crosses the threshold) and claims
 * the session in KV; `commit` appends the turn and frees the claim in one atomic operation. It
 * keeps the session's context in memory between turns and passivates when idle.
 */
import type { ActorContext, Behavior, Cancellable } from "../runtime/mod.ts";
import { approxTokenCounter } from "./compression/tokens.ts";
import type { CompressionResult, ContextMessage } from "./compression/types.ts";
import {
  contextFrom,
  itemsTokens,
  promptJson,
  promptMessages,
  type SessionContext,
  systemMessages,
  tokensOf,
  toolsTokens,
  turnMessages,
} from "./context.ts";
import { checkTurnLimits, recentToolCalls, type Refusal } from "./limits.ts";
import { type AssistantMessage, type ChatMessage, checkToolPairs } from "./messages.ts";
import type { CompactionRecord, SessionHead, TurnRecord } from "./records.ts";
import type { SessionStore, VersionedHead } from "./store.ts";

/** The actor kind. */
export const SESSION_KIND = "session";

/** One turn as a route asks for it. */
export interface TurnRequest {
  /** The new messages only. */
  messages: ChatMessage[];
  /** Which route took it. */
  source: TurnRecord["source"];
  /** The request's id. */
  requestId: string;
  /** Kept with the turn (Responses API parameters). */
  extra?: Record<string, unknown>;
  /** Max output tokens asked for, kept out of the prompt budget. */
  maxTokens?: number | undefined;
  /** The request's tool definitions: the template writes them into the prompt, so they count. */
  tools?: readonly unknown[] | undefined;
  /** Only record the turn (a plain call the client sent whole): no budget check, no compaction. */
  recordOnly?: boolean;
  /**
   * The turn number this one must get: a turn that continues a given one is refused as busy
   * when another turn took the session since (the Responses API then branches instead).
   */
  expectTurn?: number;
}

/** A claimed turn: what to send, and what `commit` needs. */
export interface TurnPlan {
  sessionId: string;
  turn: number;
  model: string;
  /** The head as claimed, and its versionstamp (the claim's fencing token). */
  head: SessionHead;
  versionstamp: string;
  /** The whole prompt. */
  messages: ChatMessage[];
  /** `messages` as JSON, built from what the session's context keeps serialized. */
  messagesJson: string;
  promptTokens: number;
  /** The new messages as context entries (with their token counts). */
  input: ContextMessage[];
  request: TurnRequest;
  /** The replica that served the session last. */
  backend: string | null;
  /** Fired by a cancel of this turn. */
  cancel: AbortController;
  /** What this turn's prompt was built from. */
  sent: TurnRecord["sent"];
  /** Tool call ids the new messages leave open (calls sent in the input without their results). */
  openAfterInput: string[];
  /** Whether the turn was claimed in KV when it began (`head` and `versionstamp` are the claim's). */
  claimed: boolean;
  /** A compaction made for this turn and not written yet: an unclaimed turn writes it with itself. */
  pendingCompaction: CompactionRecord | undefined;
}

/** How a turn ended, as the route saw it. */
export interface TurnOutcome {
  status: TurnRecord["status"];
  output: AssistantMessage | null;
  finishReason: string | null;
  usage: TurnRecord["usage"];
  backend: string | null;
}

/** What begin answers. */
export type BeginResult = { ok: true; plan: TurnPlan } | { ok: false; refusal: Refusal };
/** What commit answers. */
export type CommitResult = { ok: true; head: SessionHead; record: TurnRecord } | {
  ok: false;
  message: string;
};

/** Messages a SessionActor takes. */
export type SessionMessage =
  | { type: "begin"; request: TurnRequest }
  | { type: "commit"; plan: TurnPlan; outcome: TurnOutcome }
  | { type: "abandon"; plan: TurnPlan }
  | { type: "retry" }
  | { type: "idle" }
  | { type: "forget" }
  /** The head its creator just committed: the new session's first turn begins without a read. */
  | { type: "seed"; found: VersionedHead }
  /** Replies the session's head (null when there is none), read from KV only when it must be. */
  | { type: "head" };

/** What the actors of one process share. */
export interface SessionDeps {
  store: SessionStore;
  nodeId: string;
  now(): number;
  /** Token count of a message as sent. */
  countMessage(message: ChatMessage): number;
  /** Compacts a session's context by its policy. */
  compress(
    head: SessionHead,
    system: ContextMessage[],
    context: SessionContext,
    targetTokens: number,
  ): Promise<
    CompressionResult
  >;
  /** Whether gateway process `node` is alive (its heartbeat key is fresh). */
  nodeAlive(node: string): Promise<boolean>;
  /**
   * Since when this process has been alone on the store (no other process's heartbeat fresh at
   * its beats), or undefined while another may share it. Only then is a turn claimed in KV when it
   * begins; alone, this process's actors are the only writers, and a turn costs one commit.
   */
  aloneSince(): number | undefined;
  /** Idle time before the actor passivates, in ms. */
  idleMs: number;
  /** What becomes of a session past its TTL (`sessions.on_expire`). */
  onExpire: "delete" | "archive";
  /** Longest wait of a queued turn, in ms. */
  queueTimeoutMs: number;
  /** Told of the turn a process runs and when it ends (for cancels). */
  running: Map<string, TurnPlan>;
}

interface Waiter {
  request: TurnRequest;
  reply: (value: unknown) => void;
  deadline: number;
}

interface State {
  id: string;
  context: SessionContext | undefined;
  /**
   * The head as this actor last wrote or read it: while this process is alone on the store, only
   * this actor writes turns, and a change from elsewhere in it (extend, delete) tells it to forget.
   */
  head: (VersionedHead & { at: number }) | undefined;
  running: TurnPlan | undefined;
  waiters: Waiter[];
  /** The passivation timer, armed while no turn runs or waits; see {@linkcode IDLE}. */
  idle: Cancellable | undefined;
  /** When (performance.now()) the last message other than the idle timer's came. */
  activeAt: number;
  retry: Cancellable | undefined;
}

/**
 * The passivation timer's message. The timer is not moved on each message (two timers made and
 * cleared per turn): it stays armed, and when it fires early for the actor's last activity it is
 * armed again for the rest of the idle time.
 */
const IDLE: SessionMessage = { type: "idle" };

const MAX_CLAIM_TRIES = 8;

/** The SessionActor behaviour for sessions served with `deps`. */
export function sessionBehavior(deps: SessionDeps): Behavior<State, SessionMessage> {
  return {
    kind: SESSION_KIND,
    init: (id) => ({
      id,
      context: undefined,
      head: undefined,
      running: undefined,
      waiters: [],
      idle: undefined,
      activeAt: performance.now(),
      retry: undefined,
    }),
    async receive(state, msg, ctx) {
      if (msg.type !== "idle") state.activeAt = performance.now();
      switch (msg.type) {
        case "begin": {
          if (state.running || state.waiters.length > 0) {
            const head = state.running?.head;
            if (head?.on_busy === "queue" || (!head && state.waiters.length > 0)) {
              state.waiters.push(waiter(msg.request, ctx.deferReply(), deps));
            } else ctx.reply(busy(state.id));
            break;
          }
          const result = await begin(state, msg.request, deps);
          if (result === "remote_busy_queue") {
            state.waiters.push(waiter(msg.request, ctx.deferReply(), deps));
            state.retry ??= ctx.schedule(100, { type: "retry" });
          } else ctx.reply(result);
          break;
        }
        case "commit": {
          const result = await commit(state, msg.plan, msg.outcome, deps);
          ctx.reply(result);
          await drain(state, ctx, deps);
          break;
        }
        case "abandon": {
          await abandon(state, msg.plan, deps);
          ctx.reply(undefined);
          await drain(state, ctx, deps);
          break;
        }
        case "retry":
          state.retry = undefined;
          await drain(state, ctx, deps);
          break;
        case "forget":
          state.context = undefined;
          state.head = undefined;
          break;
        case "seed":
          state.head ??= { ...msg.found, at: deps.now() };
          break;
        case "head": {
          const found = await currentHead(state, deps, true);
          ctx.reply(found ? { head: found.head, versionstamp: found.versionstamp } : null);
          break;
        }
        case "idle": {
          state.idle = undefined;
          // While a turn runs or waits, the timer is armed again once the session is free.
          if (state.running || state.waiters.length > 0) return state;
          const left = state.activeAt + deps.idleMs - performance.now();
          if (left <= 0) ctx.stop();
          else state.idle = ctx.schedule(left, IDLE);
          return state;
        }
      }
      if (!state.running && state.waiters.length === 0 && state.idle === undefined) {
        state.idle = ctx.schedule(deps.idleMs, IDLE);
      }
      return state;
    },
    onStop(state) {
      state.idle?.cancel();
      state.retry?.cancel();
      for (const w of state.waiters) w.reply(busy(state.id));
    },
  };
}

function waiter(request: TurnRequest, reply: (v: unknown) => void, deps: SessionDeps): Waiter {
  return { request, reply, deadline: deps.now() + deps.queueTimeoutMs };
}

function busy(id: string): BeginResult {
  return {
    ok: false,
    refusal: {
      status: 409,
      code: "session_busy",
      message:
        `Session ${id} is running a turn; wait for it to finish, cancel it with POST /v1/sessions/${id}/cancel, or create the session with on_busy: "queue"`,
      retryAfter: 1,
    },
  };
}

/** Starts queued turns while the session is free. */
async function drain(
  state: State,
  ctx: ActorContext<SessionMessage>,
  deps: SessionDeps,
): Promise<void> {
  while (!state.running && state.waiters.length > 0) {
    const next = state.waiters[0]!;
    if (deps.now() > next.deadline) {
      state.waiters.shift();
      next.reply(
        {
          ok: false,
          refusal: {
            status: 504,
            code: "session_queue_timeout",
            message: `The turn waited ${
              Math.round(deps.queueTimeoutMs / 1000)
            } s for session ${state.id} to be free; retry it`,
          },
        } satisfies BeginResult,
      );
      continue;
    }
    const result = await begin(state, next.request, deps);
    if (result === "remote_busy_queue") {
      state.retry ??= ctx.schedule(100, { type: "retry" });
      return;
    }
    state.waiters.shift();
    next.reply(result);
  }
}

/**
 * Why session `head` takes no more turns at `now`, or undefined while it lives. Past its TTL it
 * is expired whether or not its timer has fired yet (the timer is late after a restart, say): an
 * archived one stays readable, so it is 410 Gone; one that is deleted, or about to be, is 404.
 */
export function endedRefusal(
  head: SessionHead,
  now: number,
  onExpire: "delete" | "archive",
): Refusal | undefined {
  const pastTtl = head.state === "active" && head.expires_at_ms <= now;
  if (head.state === "active" && !pastTtl) return undefined;
  if (head.state === "expired" || (pastTtl && onExpire === "archive")) {
    return {
      status: 410,
      code: "session_expired",
      message: `Session ${head.id} expired at ${
        new Date(head.expires_at_ms).toISOString()
      } (its ttl_seconds of ${head.ttl_seconds} passed) and is archived read-only; read it with GET /v1/sessions/${head.id}/history, or create a new session with POST /v1/sessions`,
      param: "session_id",
    };
  }
  const why = pastTtl ? "its TTL passed" : `it is ${head.state}`;
  return missing(head.id, why);
}

function notFound(id: string, why = "no such session"): BeginResult {
  return { ok: false, refusal: missing(id, why) };
}

function missing(id: string, why: string): Refusal {
  return {
    status: 404,
    code: why === "no such session" ? "session_not_found" : "session_expired",
    message: `Session ${id} not found (${why}); create one with POST /v1/sessions`,
    param: "session_id",
  };
}

/** Reads the head and brings the cached context up to it. */
async function refresh(
  state: State,
  found: VersionedHead,
  deps: SessionDeps,
): Promise<SessionContext> {
  const { head, versionstamp } = found;
  const cached = state.context;
  if (cached && cached.versionstamp === versionstamp) return cached;
  if (
    cached && cached.compaction === head.compaction && cached.baseTurn === head.base_turn &&
    cached.loadedTo <= head.next_turn
  ) {
    const turns = await deps.store.turns(state.id, cached.loadedTo, head.next_turn);
    for (const t of turns) cached.items.push(...turnMessages(t));
    cached.loadedTo = head.next_turn;
    cached.versionstamp = versionstamp;
    return cached;
  }
  const compaction = head.compaction > 0
    ? await deps.store.compaction(state.id, head.compaction)
    : undefined;
  const turns = await deps.store.turns(state.id, head.base_turn, head.next_turn);
  const context = contextFrom(
    head,
    versionstamp,
    systemMessages(head, deps.countMessage),
    compaction,
    turns,
  );
  state.context = context;
  return context;
}

/**
 * The session's head. Alone on the store, the head this actor wrote or read last is the head: no
 * read (with `mayUseCache`). Only one cached since this process is alone, though (one from before
 * may miss others' turns), and not past its TTL (an extend may have pushed that out).
 */
async function currentHead(
  state: State,
  deps: SessionDeps,
  mayUseCache: boolean,
): Promise<VersionedHead | undefined> {
  const cached = state.head;
  const aloneSince = deps.aloneSince();
  const fresh = mayUseCache && cached !== undefined && aloneSince !== undefined &&
    cached.at >= aloneSince && cached.head.expires_at_ms > deps.now();
  const found = fresh ? cached : await deps.store.get(state.id);
  state.head = found && { ...found, at: deps.now() };
  return found;
}

async function begin(
  state: State,
  request: TurnRequest,
  deps: SessionDeps,
): Promise<BeginResult | "remote_busy_queue"> {
  for (let attempt = 0; attempt < MAX_CLAIM_TRIES; attempt++) {
    // A turn of this session still runs in this process (this actor restarted since it began).
    if (deps.running.has(state.id)) return busy(state.id);
    const found = await currentHead(state, deps, attempt === 0);
    const aloneSince = deps.aloneSince();
    if (!found) return notFound(state.id);
    const { head } = found;
    const now = deps.now();
    const ended = endedRefusal(head, now, deps.onExpire);
    if (ended) return { ok: false, refusal: ended };
    if (request.expectTurn !== undefined && head.next_turn !== request.expectTurn) {
      return busy(state.id);
    }
    if (head.inflight) {
      // Another process's claim holds while that process's heartbeat is fresh. This process's own
      // turns are in `deps.running` (checked above), so a claim of its own was left by a crash of
      // an earlier run of it, as is one of a dead process: either is taken over.
      const held = head.inflight.node !== deps.nodeId && await deps.nodeAlive(head.inflight.node);
      if (held) return head.on_busy === "queue" ? "remote_busy_queue" : busy(state.id);
    }
    const limited = checkTurnLimits(head, now);
    if (limited) return { ok: false, refusal: limited };
    const pairs = checkToolPairs(request.messages, head.open_tool_calls);
    if (!pairs.ok) {
      return {
        ok: false,
        refusal: {
          status: 400,
          code: "invalid_tool_pairing",
          message: pairs.problem.message,
          param: `messages.${pairs.problem.index}.tool_call_id`,
        },
      };
    }
    const openAfterInput = pairs.open;
    const context = await refresh(state, found, deps);
    const turn = head.next_turn;
    const input: ContextMessage[] = request.messages.map((message, index) => ({
      message,
      // A recorded plain call is not budgeted: the estimate spares the tokenizer a whole prompt
      // per call (the replica's usage has the exact count).
      tokens: request.recordOnly
        ? approxTokenCounter.countMessage(message)
        : deps.countMessage(message),
      origin: { kind: "original", turn, index },
    }));
    // The tool definitions' tokens, counted once for the budget check and the prompt's size.
    const tools = toolsTokens(request.tools, deps.countMessage);
    const planned = request.recordOnly
      ? { compaction: undefined }
      : await planPrompt(head, context, input, request, tools, deps);
    if ("refusal" in planned) return { ok: false, refusal: planned.refusal };
    const claimed: SessionHead = {
      ...head,
      updated_at_ms: now,
      compaction: planned.compaction?.compaction ?? head.compaction,
      base_turn: planned.compaction?.base_turn ?? head.base_turn,
      inflight: { turn, node: deps.nodeId, started_at_ms: now, request_id: request.requestId },
      usage: planned.compaction
        ? { ...head.usage, compactions: head.usage.compactions + 1 }
        : head.usage,
    };
    // Claimed in KV only while another process may run turns too: alone, the final commit's
    // versionstamp check is the one fence needed, and a crash mid-turn leaves nothing to clear.
    const claim = aloneSince === undefined;
    let versionstamp = found.versionstamp;
    if (claim) {
      const written = await deps.store.commit(claimed, found.versionstamp, {
        ...(planned.compaction ? { compaction: planned.compaction } : {}),
      });
      if (written === undefined) {
        state.head = undefined;
        continue;
      }
      versionstamp = written;
      state.head = { head: claimed, versionstamp, at: deps.now() };
    }
    if (planned.compaction) {
      state.context = {
        versionstamp,
        compaction: planned.compaction.compaction,
        baseTurn: turn,
        loadedTo: turn,
        system: context.system,
        items: [...planned.compaction.context],
        summaries: planned.compaction.summaries,
      };
    } else context.versionstamp = versionstamp;
    const ctx = state.context!;
    const promptTokens = tokensOf(ctx.system) + itemsTokens(ctx) + tokensOf(input) + tools;
    const plan: TurnPlan = {
      sessionId: state.id,
      turn,
      model: head.model,
      head: claim ? claimed : { ...claimed, inflight: null },
      versionstamp,
      messages: promptMessages(ctx, input),
      messagesJson: promptJson(ctx, input),
      promptTokens,
      input,
      request,
      backend: head.backend,
      cancel: new AbortController(),
      sent: {
        compaction: claimed.compaction,
        base_turn: claimed.base_turn,
        messages: ctx.system.length + ctx.items.length + input.length,
        prompt_tokens: promptTokens,
      },
      openAfterInput,
      claimed: claim,
      pendingCompaction: claim ? undefined : planned.compaction,
    };
    state.running = plan;
    deps.running.set(state.id, plan);
    return { ok: true, plan };
  }
  return busy(state.id);
}

/** Decides whether this turn's prompt needs a compaction, and makes it. */
async function planPrompt(
  head: SessionHead,
  context: SessionContext,
  input: ContextMessage[],
  request: TurnRequest,
  toolTokens: number,
  deps: SessionDeps,
): Promise<{ compaction: CompactionRecord | undefined } | { refusal: Refusal }> {
  const policy = head.compression;
  // The tool definitions and the reply's room are part of no message, and no compression shrinks them.
  const reserve = (request.maxTokens ?? 0) + toolTokens;
  const fixed = tokensOf(context.system) + tokensOf(input);
  const total = fixed + itemsTokens(context) + reserve;
  const overflow = (tokens: number): Refusal => ({
    status: 400,
    code: "context_length_exceeded",
    message:
      `This session's prompt would be ${tokens} tokens, over its budget of ${policy.budget_tokens} tokens${
        policy.method === "none" ? " and its compression is off" : " even after compression"
      }; shorten the new messages, lower max_tokens, or create the session with a compression method`,
    param: "messages",
  });
  if (policy.method === "none" || total <= policy.threshold * policy.budget_tokens) {
    return total > policy.budget_tokens ? { refusal: overflow(total) } : { compaction: undefined };
  }
  // The compressor's target includes the system prompt it is given; the new input and the
  // reply's reserve are not part of what it compresses, so they come off the target here.
  const target = Math.max(
    0,
    Math.floor(policy.target * policy.budget_tokens) - tokensOf(input) - reserve,
  );
  const sizeOf = (r: CompressionResult) =>
    tokensOf(context.system) + tokensOf(r.context) + tokensOf(input) + reserve;
  let result = await deps.compress(head, context.system, context, target);
  if (sizeOf(result) > policy.budget_tokens && policy.keep_recent_turns > 0) {
    // The newest turns are kept verbatim only while they fit: past the budget they give way too,
    // rather than the turn being refused.
    const unprotected = { ...head, compression: { ...policy, keep_recent_turns: 0 } };
    result = await deps.compress(unprotected, context.system, context, target);
    result.actions.unshift(
      `the newest ${policy.keep_recent_turns} turns do not fit in the budget: compacted them too`,
    );
  }
  const after = sizeOf(result);
  if (after > policy.budget_tokens) return { refusal: overflow(after) };
  const same = result.context.length === context.items.length &&
    result.context.every((m, i) =>
      JSON.stringify(m.message) === JSON.stringify(context.items[i]!.message)
    );
  // Nothing could go (the newest turns alone pass the target): no compaction to record, and the
  // prompt keeps its prefix.
  if (same) return { compaction: undefined };
  return {
    compaction: {
      v: 1,
      compaction: head.compaction + 1,
      method: policy.method,
      created_at_ms: deps.now(),
      base_turn: head.next_turn,
      context: result.context,
      summaries: result.summaries,
      tokens_before: tokensOf(context.system) + itemsTokens(context),
      tokens_after: tokensOf(context.system) + tokensOf(result.context),
      actions: result.actions,
    },
  };
}

async function commit(
  state: State,
  plan: TurnPlan,
  outcome: TurnOutcome,
  deps: SessionDeps,
): Promise<CommitResult> {
  const now = deps.now();
  const output = outcome.output ? [outcome.output] : [];
  const calls = outcome.status === "completed" ? outcome.output?.tool_calls ?? [] : [];
  const outputTokens = outcome.usage.completion_tokens ||
    (outcome.output ? deps.countMessage(outcome.output) : 0);
  const record: TurnRecord = {
    v: 1,
    turn: plan.turn,
    status: outcome.status,
    source: plan.request.source,
    created_at_ms: now,
    request_id: plan.request.requestId,
    input: plan.request.messages,
    input_tokens: plan.input.map((m) => m.tokens),
    output,
    output_tokens: outputTokens,
    finish_reason: outcome.finishReason,
    backend: outcome.backend,
    usage: outcome.usage,
    sent: plan.sent,
    ...(plan.request.extra ? { extra: plan.request.extra } : {}),
  };
  const head = plan.head;
  let next: SessionHead = {
    ...head,
    updated_at_ms: now,
    next_turn: plan.turn + 1,
    inflight: null,
    backend: outcome.backend ?? head.backend,
    open_tool_calls: output.length > 0 ? calls.map((c) => c.id) : plan.openAfterInput,
    tool_call_times: [...recentToolCalls(head, now), ...calls.map(() => now)],
    last_prompt_messages: typeof record.extra?.prompt_messages === "number"
      ? record.extra.prompt_messages
      : 0,
    usage: {
      ...head.usage,
      turns: head.usage.turns + 1,
      prompt_tokens: head.usage.prompt_tokens + outcome.usage.prompt_tokens,
      completion_tokens: head.usage.completion_tokens + outcome.usage.completion_tokens,
      cached_tokens: head.usage.cached_tokens + outcome.usage.cached_tokens,
      tool_calls: head.usage.tool_calls + calls.length,
      context_tokens: plan.promptTokens + outputTokens,
    },
  };
  finishRunning(state, plan, deps);
  let versionstamp: string | undefined;
  const writes = {
    turn: record,
    ...(plan.pendingCompaction ? { compaction: plan.pendingCompaction } : {}),
  };
  try {
    versionstamp = await deps.store.commit(next, plan.versionstamp, writes);
    // An extend or a metadata update during the turn changed the head: keep theirs and ours. Each
    // retry follows another such write that committed, so a burst of extends (a client that
    // extends while it turns) is met by retrying as often as the other session loops do.
    for (let retry = 0; versionstamp === undefined && retry < MERGE_RETRIES; retry++) {
      const current = await deps.store.get(plan.sessionId);
      if (!current || !onlyAsideChanged(current.head, plan, deps.nodeId)) break;
      const merged: SessionHead = {
        ...next,
        expires_at_ms: current.head.expires_at_ms,
        ttl_seconds: current.head.ttl_seconds,
        metadata: current.head.metadata,
      };
      versionstamp = await deps.store.commit(merged, current.versionstamp, writes);
      if (versionstamp !== undefined) next = merged;
    }
  } catch (error) {
    // Not saved: free the claim too, or other gateway processes see the session busy for as long
    // as this one lives.
    await abandon(state, plan, deps);
    return { ok: false, message: error instanceof Error ? error.message : String(error) };
  }
  if (versionstamp === undefined) {
    state.context = undefined;
    state.head = undefined;
    // Say what beat the commit: an expiry or a delete reads very unlike a takeover.
    const now = await deps.store.get(plan.sessionId).catch(() => undefined);
    const what = !now
      ? "was deleted (or expired)"
      : now.head.state !== "active"
      ? `was ${now.head.state}`
      : "was taken over by another gateway process";
    return {
      ok: false,
      message: `Session ${plan.sessionId} ${what} during turn ${plan.turn}; the turn was not saved`,
    };
  }
  const context = state.context;
  if (context && context.versionstamp === plan.versionstamp && context.loadedTo === plan.turn) {
    context.items.push(...turnMessages(record));
    context.loadedTo = plan.turn + 1;
    context.versionstamp = versionstamp;
  } else state.context = undefined;
  state.head = { head: next, versionstamp, at: deps.now() };
  return { ok: true, head: next, record };
}

/** Times a turn's commit is merged again with heads that changed only aside (TTL, metadata). */
const MERGE_RETRIES = 20;

/**
 * Whether `current` differs from what turn `plan` began on only in what other routes change
 * beside a turn (expiry, TTL, metadata), so the turn may commit over it.
 */
function onlyAsideChanged(current: SessionHead, plan: TurnPlan, nodeId: string): boolean {
  const began = plan.head;
  const compaction = plan.pendingCompaction
    ? plan.pendingCompaction.compaction - 1
    : began.compaction;
  const claimHolds = plan.claimed
    ? current.inflight?.node === nodeId && current.inflight.turn === plan.turn
    : current.inflight === null;
  return current.state === "active" && current.next_turn === plan.turn &&
    current.compaction === compaction && claimHolds &&
    JSON.stringify(current.open_tool_calls) === JSON.stringify(began.open_tool_calls);
}

async function abandon(state: State, plan: TurnPlan, deps: SessionDeps): Promise<void> {
  finishRunning(state, plan, deps);
  if (!plan.claimed) {
    // Nothing was written; a compaction made for the turn is dropped with it.
    if (plan.pendingCompaction) state.context = undefined;
    return;
  }
  const freed: SessionHead = { ...plan.head, inflight: null, updated_at_ms: deps.now() };
  const versionstamp = await deps.store.commit(freed, plan.versionstamp).catch(() => undefined);
  const context = state.context;
  if (versionstamp && context && context.versionstamp === plan.versionstamp) {
    context.versionstamp = versionstamp;
  } else state.context = undefined;
}

function finishRunning(state: State, plan: TurnPlan, deps: SessionDeps): void {
  if (state.running === plan) state.running = undefined;
  if (deps.running.get(plan.sessionId) === plan) deps.running.delete(plan.sessionId);
}
