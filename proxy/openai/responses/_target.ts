/**
 * The session a `POST /v1/responses` runs its turn on: the conversation it names, the session of
 * its previous response (continued when that response is the latest turn, forked at it otherwise),
 * or a new session; a temporary fork or session when `store` is false.
 */
import {
  forkSession,
  type SessionHead,
  type SessionService,
  type TurnRecord,
} from "../../../actors/session/mod.ts";
import { notFound, refused, type ResponsesRouteServices } from "./_http.ts";
import { newConversationId, parseResponseId } from "./ids.ts";
import { conversationId, type ResponseCreateBody } from "./schemas.ts";
import { responseExtra, responseOfTurn } from "./turn_items.ts";

/** Where the turn runs. */
export interface Target {
  head: SessionHead;
  /** Made by this request: deleted again when its turn is not saved. */
  created: boolean;
  /** Made for this one answer: deleted once it is given. */
  temporary: boolean;
  /** A new session whose system prompt is the request's instructions (if any). */
  fresh: boolean;
  /** The instructions in effect before this turn. */
  instructions: string | null;
  /** Continues the session of `previous_response_id` in place (a busy session is forked instead). */
  inPlace: { turn: number } | undefined;
}

/** Options of {@linkcode resolveTarget}. */
export interface TargetOptions {
  taskId: string | null;
  clientId: string | null;
}

/** The target of `body`, or the error to answer. */
export async function resolveTarget(
  body: ResponseCreateBody,
  services: ResponsesRouteServices,
  options: TargetOptions,
): Promise<Target | Response> {
  const { sessions } = services;
  const conversation = conversationId(body);
  if (conversation !== undefined) {
    const missing = { what: "Conversation", id: conversation, param: "conversation" };
    const found = await sessions.get(conversation);
    if (!found.ok) return refused(found.refusal, missing);
    const head = found.found.head;
    const instructions = await latestInstructions(sessions, head);
    if (body.store) return existing(head, instructions, undefined);
    return await forkAt(sessions, head.id, head.next_turn - 1, instructions, true);
  }
  const previous = body.previous_response_id;
  if (previous != null) {
    const missing = { what: "Previous response", id: previous, param: "previous_response_id" };
    const ref = parseResponseId(previous);
    const found = ref ? await sessions.get(ref.sessionId) : undefined;
    const record = ref && found?.ok
      ? await sessions.store.turn(ref.sessionId, ref.turn)
      : undefined;
    if (!ref || !found?.ok || !record || !responseOfTurn(ref.sessionId, record)) {
      return notFound(missing);
    }
    const head = found.found.head;
    const instructions = responseExtra(record)?.instructions ?? head.system;
    if (body.store && ref.turn === head.next_turn - 1 && head.inflight === null) {
      return existing(head, instructions, { turn: ref.turn });
    }
    return await forkAt(sessions, head.id, ref.turn, instructions, !body.store);
  }
  // Instructions too long for the session's head go first in the turn instead.
  const system = fitsHead(body.instructions) ? body.instructions ?? null : null;
  const created = await sessions.create({
    id: newConversationId(),
    model: body.model,
    system,
    source: "conversation",
    task_id: options.taskId,
    client_id: options.clientId,
    compression: body.truncation === "disabled" ? { method: "none" } : undefined,
  });
  if (!created.ok) return refused(created.refusal);
  return {
    head: created.head,
    created: true,
    temporary: !body.store,
    fresh: system !== null || body.instructions == null,
    instructions: system,
    inPlace: undefined,
  };
}

/** Bytes of instructions a session's head holds as its system prompt (one KV value: 64 KiB). */
const HEAD_SYSTEM_BYTES = 32 * 1024;
const encoder = new TextEncoder();

function fitsHead(instructions: string | null | undefined): boolean {
  return instructions == null || encoder.encode(instructions).length <= HEAD_SYSTEM_BYTES;
}

function existing(
  head: SessionHead,
  instructions: string | null,
  inPlace: Target["inPlace"],
): Target {
  return { head, created: false, temporary: false, fresh: false, instructions, inPlace };
}

/** A fork of `sessionId` at turn `upTo` to run the turn on. */
export async function forkAt(
  sessions: SessionService,
  sessionId: string,
  upTo: number,
  instructions: string | null,
  temporary: boolean,
): Promise<Target | Response> {
  const forked = await forkSession(sessions, sessionId, upTo, {
    id: newConversationId(),
    source: "conversation",
  });
  if (!forked.ok) return refused(forked.refusal);
  return {
    head: forked.value,
    created: true,
    temporary,
    fresh: false,
    instructions,
    inPlace: undefined,
  };
}

/** How many recent turns are searched for the instructions in effect. */
const INSTRUCTIONS_WINDOW = 4;

/**
 * The instructions in effect after the latest Responses turn of the last few, or the session's
 * system prompt when none of them is one.
 */
async function latestInstructions(
  sessions: SessionService,
  head: SessionHead,
): Promise<string | null> {
  const from = Math.max(1, head.next_turn - INSTRUCTIONS_WINDOW);
  const turns: TurnRecord[] = head.next_turn > 1
    ? await sessions.store.turns(head.id, from, head.next_turn)
    : [];
  for (const record of turns.reverse()) {
    const extra = responseExtra(record);
    if (extra) return extra.instructions;
  }
  return head.system;
}
