/**
 * Session edits beyond taking turns, for the Conversations and Responses APIs: a fork of a
 * session up to one of its turns, a change to one turn record (a deleted message or part of one,
 * a mark), and new metadata.
 */
import { z } from "zod";
import { setChunked } from "./chunked.ts";
import type { Refusal } from "./limits.ts";
import {
  type AssistantMessage,
  type ChatMessage,
  ChatMessageSchema,
  checkToolPairs,
  contentText,
} from "./messages.ts";
import { keys, type SessionHead, type TurnRecord } from "./records.ts";
import type { SessionService } from "./service.ts";

/** A value, or why not. */
export type Edited<T> = { ok: true; value: T } | { ok: false; refusal: Refusal };

/** Options of {@linkcode forkSession}. */
export interface ForkOptions {
  /** The new session's id. */
  id: string;
  /** Its source. @default the source session's */
  source?: SessionHead["source"];
}

/** Bytes of turn records one atomic operation carries, below Deno KV's 800 KiB. */
const BATCH_BYTES = 500 * 1024;
const BATCH_RECORDS = 200;
const encoder = new TextEncoder();

/**
 * A new session with the settings of `sourceId` and copies of its turns 1 to `upTo` (0: none),
 * so a turn can branch off an older one. Each copy's `extra.copied_from` names its original.
 */
export async function forkSession(
  sessions: SessionService,
  sourceId: string,
  upTo: number,
  options: ForkOptions,
): Promise<Edited<SessionHead>> {
  const found = await sessions.get(sourceId);
  if (!found.ok) return found;
  const src = found.found.head;
  const turns = upTo > 0 ? await sessions.store.turns(sourceId, 1, upTo + 1) : [];
  if (upTo < 0 || upTo >= src.next_turn || turns.length !== upTo) {
    return refuse(404, "turn_not_found", `Session ${sourceId} has no turn ${upTo} to fork at`);
  }
  const created = await sessions.create({
    id: options.id,
    model: src.model,
    system: src.system,
    metadata: src.metadata,
    task_id: src.task_id,
    client_id: src.client_id,
    ttl_seconds: src.ttl_seconds,
    on_busy: src.on_busy,
    compression: src.compression,
    limits: src.limits,
    source: options.source ?? src.source,
  });
  if (!created.ok) return created;
  const copies = turns.map((t): TurnRecord => ({
    ...t,
    extra: { ...t.extra, copied_from: t.extra?.copied_from ?? { session: sourceId, turn: t.turn } },
  }));
  const written = await writeCopies(sessions, created.head, copies);
  if (!written.ok) await sessions.delete(created.head.id);
  return written;
}

async function writeCopies(
  sessions: SessionService,
  head: SessionHead,
  copies: TurnRecord[],
): Promise<Edited<SessionHead>> {
  const { store } = sessions;
  const found = await store.get(head.id);
  if (!found) return busy();
  for (let i = 0; i < copies.length;) {
    const op = store.kv.atomic().check({
      key: keys.head(head.id),
      versionstamp: found.versionstamp,
    });
    let bytes = 0;
    let n = 0;
    while (i < copies.length && n < BATCH_RECORDS) {
      const record = copies[i]!;
      const size = encoder.encode(JSON.stringify(record)).length;
      if (n > 0 && bytes + size > BATCH_BYTES) break;
      setChunked(op, keys.turn(head.id, record.turn), record);
      bytes += size;
      n++;
      i++;
    }
    if (!(await op.commit()).ok) return busy();
  }
  const next = afterCopies(found.head, copies);
  const vs = await store.commit(next, found.versionstamp);
  return vs === undefined ? busy() : { ok: true, value: next };
}

/** The head of a fresh session once `copies` are its turns. */
function afterCopies(head: SessionHead, copies: TurnRecord[]): SessionHead {
  let open: string[] = [];
  const usage = { ...head.usage };
  for (const t of copies) {
    const pairs = checkToolPairs(t.input, open);
    open = pairs.ok ? pairs.open : [];
    const reply = t.output[0];
    const calls = t.status === "completed"
      ? reply?.role === "assistant" ? reply.tool_calls ?? [] : []
      : [];
    if (t.output.length > 0) open = calls.map((c) => c.id);
    usage.turns++;
    usage.prompt_tokens += t.usage.prompt_tokens;
    usage.completion_tokens += t.usage.completion_tokens;
    usage.cached_tokens += t.usage.cached_tokens;
    usage.tool_calls += calls.length;
  }
  const last = copies.at(-1);
  if (last) usage.context_tokens = last.sent.prompt_tokens + last.output_tokens;
  const held = last?.extra?.prompt_messages;
  return {
    ...head,
    next_turn: copies.length + 1,
    open_tool_calls: open,
    backend: last?.backend ?? head.backend,
    usage,
    last_prompt_messages: typeof held === "number" ? held : 0,
  };
}

/**
 * Rewrites turn `turn` of `id` with `edit` (which answers a refusal when the edit does not
 * apply), checked against the head so it never races a turn's commit. Tool calls the edit takes
 * out of the history stop waiting for their results; otherwise the head is left as it is, so a
 * turn in flight still commits.
 */
export function editTurn(
  sessions: SessionService,
  id: string,
  turn: number,
  edit: (record: TurnRecord) => TurnRecord | Refusal,
): Promise<Edited<TurnRecord>> {
  return sessions.exclusive(id, async () => {
    for (let attempt = 0; attempt < 20; attempt++) {
      const found = await sessions.get(id);
      if (!found.ok) return found;
      const { head, versionstamp } = found.found;
      const record = await sessions.store.turn(id, turn);
      if (!record) return refuse(404, "turn_not_found", `Session ${id} has no turn ${turn}`);
      const edited = edit(record);
      if (!("v" in edited)) return { ok: false, refusal: edited };
      const kept = new Set(callIds(edited));
      const open = head.open_tool_calls.filter((c) => kept.has(c) || !callIds(record).includes(c));
      if (open.length < head.open_tool_calls.length && head.inflight === null) {
        const next: SessionHead = { ...head, open_tool_calls: open, updated_at_ms: Date.now() };
        const vs = await sessions.store.commit(next, versionstamp, { turn: edited });
        if (vs !== undefined) return { ok: true, value: edited };
        continue;
      }
      const op = sessions.store.kv.atomic().check({ key: keys.head(id), versionstamp });
      setChunked(op, keys.turn(id, turn), edited);
      if ((await op.commit()).ok) return { ok: true, value: edited };
    }
    return busy();
  });
}

/** The ids of the tool calls of `record`'s messages that are not deleted. */
function callIds(record: TurnRecord): string[] {
  const deleted = new Set(record.deleted);
  return [...record.input, ...record.output].flatMap((m, index) =>
    m.role === "assistant" && !deleted.has(index) ? (m.tool_calls ?? []).map((c) => c.id) : []
  );
}

/** Where a record keeps messages as first written, by index, once a part of one is deleted. */
const ORIGINALS = "original_messages";
const OriginalsSchema = z.record(z.string(), ChatMessageSchema);

/**
 * The messages of `record` (input first, then output) as they were first written, before any
 * part of them was deleted: what was said, though later prompts no longer send all of it.
 */
export function writtenMessages(record: TurnRecord): ChatMessage[] {
  const parsed = OriginalsSchema.safeParse(record.extra?.[ORIGINALS] ?? {});
  const originals = parsed.success ? parsed.data : {};
  return [...record.input, ...record.output].map((m, index) => originals[index] ?? m);
}

/** One part of an assistant message: its text, or one of its tool calls. */
export type MessagePart = { text: true } | { toolCallId: string };

/**
 * Deletes one part of assistant message `index` (input first, then output) of turn `turn`:
 * later prompts send the message without it, or leave the message out once nothing is left. The
 * record keeps the message as first written (see {@linkcode writtenMessages}).
 */
export async function deleteMessagePart(
  sessions: SessionService,
  id: string,
  turn: number,
  index: number,
  part: MessagePart,
): Promise<Edited<TurnRecord>> {
  const edited = await editTurn(sessions, id, turn, (record) => {
    const inInput = index < record.input.length;
    const message = inInput ? record.input[index] : record.output[index - record.input.length];
    const absent = refusal(
      404,
      "message_part_not_found",
      `Turn ${turn} of session ${id} has no such part in message ${index}`,
    );
    if (message?.role !== "assistant" || record.deleted?.includes(index)) return absent;
    const next = withoutPart(message, part);
    if (next === undefined) return absent;
    if (contentText(next) === "" && (next.tool_calls ?? []).length === 0) {
      return { ...record, deleted: [...record.deleted ?? [], index].sort((a, b) => a - b) };
    }
    const originals = {
      [index]: message,
      ...OriginalsSchema.parse(record.extra?.[ORIGINALS] ?? {}),
    };
    const input = inInput ? record.input.with(index, next) : record.input;
    const output = inInput ? record.output : record.output.with(index - record.input.length, next);
    return { ...record, input, output, extra: { ...record.extra, [ORIGINALS]: originals } };
  });
  if (edited.ok) sessions.forget(id);
  return edited;
}

/** `message` without `part`, or undefined when it has no such part. */
function withoutPart(message: AssistantMessage, part: MessagePart): AssistantMessage | undefined {
  const calls = message.tool_calls ?? [];
  if ("text" in part) {
    return contentText(message) === "" ? undefined : { ...message, content: null };
  }
  const rest = calls.filter((c) => c.id !== part.toolCallId);
  if (rest.length === calls.length) return undefined;
  const { tool_calls: _calls, ...bare } = message;
  return rest.length > 0 ? { ...bare, tool_calls: rest } : bare;
}

/**
 * Deletes message `index` (input first, then output) of turn `turn`: the record keeps it, marked
 * deleted, and later prompts leave it out. A message already folded into a compaction stays there.
 */
export async function deleteMessage(
  sessions: SessionService,
  id: string,
  turn: number,
  index: number,
): Promise<Edited<TurnRecord>> {
  const edited = await editTurn(sessions, id, turn, (record) => {
    const deleted = record.deleted ?? [];
    if (index >= record.input.length + record.output.length || deleted.includes(index)) {
      return refusal(
        404,
        "message_not_found",
        `Turn ${turn} of session ${id} has no message ${index}`,
      );
    }
    return { ...record, deleted: [...deleted, index].sort((a, b) => a - b) };
  });
  // The session actor's cached context still holds the message.
  if (edited.ok) sessions.forget(id);
  return edited;
}

/** Replaces the metadata of `id`; refused while a turn runs, whose commit would undo it. */
export function updateMetadata(
  sessions: SessionService,
  id: string,
  metadata: Record<string, string>,
): Promise<Edited<SessionHead>> {
  return sessions.exclusive(id, async () => {
    for (let attempt = 0; attempt < 20; attempt++) {
      const found = await sessions.get(id);
      if (!found.ok) return found;
      const { head, versionstamp } = found.found;
      if (head.inflight) {
        return {
          ok: false,
          refusal: {
            ...refusal(409, "session_busy", `Session ${id} is running a turn; retry when it ends`),
            retryAfter: 1,
          },
        };
      }
      const next: SessionHead = { ...head, metadata, updated_at_ms: Date.now() };
      if ((await sessions.store.commit(next, versionstamp)) !== undefined) {
        return { ok: true, value: next };
      }
    }
    return busy();
  });
}

function refusal(status: number, code: string, message: string): Refusal {
  return { status, code, message, param: null };
}

function refuse(status: number, code: string, message: string): { ok: false; refusal: Refusal } {
  return { ok: false, refusal: refusal(status, code, message) };
}

function busy(): { ok: false; refusal: Refusal } {
  return {
    ok: false,
    refusal: {
      ...refusal(503, "session_store_busy", "The session store is busy; retry"),
      retryAfter: 1,
    },
  };
}
