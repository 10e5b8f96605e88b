/** The JSON shapes of sessions and their turns as the /v1/sessions API answers them. */
import type {
  ChatMessage,
  CompactionRecord,
  SessionHead,
  SessionStore,
  TurnRecord,
} from "../../actors/session/mod.ts";

const seconds = (ms: number) => Math.floor(ms / 1000);

/**
 * A session as `GET /v1/sessions/:id` answers it. `running` is the turn this process runs for
 * it, if any: a turn is claimed in KV only while other gateway processes share the store.
 */
export function sessionView(
  head: SessionHead,
  now: number,
  running?: number,
): Record<string, unknown> {
  const recentCalls = head.tool_call_times.filter((t) => t > now - 60_000).length;
  const used = head.usage.prompt_tokens + head.usage.completion_tokens;
  return {
    id: head.id,
    object: "session",
    model: head.model,
    system: head.system,
    metadata: head.metadata,
    task_id: head.task_id,
    client_id: head.client_id,
    state: head.state,
    created_at: seconds(head.created_at_ms),
    updated_at: seconds(head.updated_at_ms),
    expires_at: seconds(head.expires_at_ms),
    ttl_seconds: head.ttl_seconds,
    on_busy: head.on_busy,
    compression: head.compression,
    limits: head.limits,
    usage: {
      ...head.usage,
      total_tokens: used,
      tokens_remaining: head.limits.max_tokens === null
        ? null
        : Math.max(0, head.limits.max_tokens - used),
      tool_calls_last_minute: recentCalls,
      duration_seconds: Math.max(0, Math.round((now - head.created_at_ms) / 1000)),
    },
    backend: head.backend,
    turns: head.next_turn - 1,
    turn_in_flight: head.inflight?.turn ?? running ?? null,
    open_tool_calls: head.open_tool_calls,
  };
}

/** One turn as `GET /v1/sessions/:id/history` answers it. */
export function turnView(turn: TurnRecord, sent?: ChatMessage[]): Record<string, unknown> {
  return {
    object: "session.turn",
    turn: turn.turn,
    status: turn.status,
    source: turn.source,
    created_at: seconds(turn.created_at_ms),
    request_id: turn.request_id,
    input: turn.input,
    output: turn.output,
    finish_reason: turn.finish_reason,
    backend: turn.backend,
    usage: turn.usage,
    sent: sent === undefined ? turn.sent : { ...turn.sent, prompt: sent },
  };
}

/**
 * The prompts the turns of `page` sent, rebuilt from the compactions and the original turns
 * (a turn keeps only where its prompt started, not a copy of it).
 */
export async function sentPrompts(
  store: SessionStore,
  head: SessionHead,
  page: TurnRecord[],
): Promise<ChatMessage[][]> {
  const compactions = new Map<number, CompactionRecord | undefined>();
  const system: ChatMessage[] = head.system === null
    ? []
    : [{ role: "system", content: head.system }];
  const first = Math.min(...page.map((t) => t.sent.base_turn));
  const earlier = page.length === 0 ? [] : await store.turns(head.id, first, page[0]!.turn);
  const byTurn = new Map<number, TurnRecord>();
  for (const t of [...earlier, ...page]) byTurn.set(t.turn, t);
  const out: ChatMessage[][] = [];
  for (const turn of page) {
    const k = turn.sent.compaction;
    if (k > 0 && !compactions.has(k)) compactions.set(k, await store.compaction(head.id, k));
    const prompt = [...system, ...(compactions.get(k)?.context.map((m) => m.message) ?? [])];
    for (let n = turn.sent.base_turn; n < turn.turn; n++) {
      const t = byTurn.get(n);
      if (t) prompt.push(...t.input, ...t.output);
    }
    prompt.push(...turn.input);
    out.push(prompt);
  }
  return out;
}

/** A compaction as the history shows it. */
export function compactionView(c: CompactionRecord): Record<string, unknown> {
  return {
    object: "session.compaction",
    compaction: c.compaction,
    method: c.method,
    created_at: seconds(c.created_at_ms),
    before_turn: c.base_turn,
    tokens_before: c.tokens_before,
    tokens_after: c.tokens_after,
    actions: c.actions,
  };
}
