/** What the Responses and Conversations routes share: their services and their errors. */
import type { Refusal, SessionHead, SessionService } from "../../../actors/session/mod.ts";
import { errorResponse } from "../../errors.ts";
import { refusalResponse } from "../../sessions/routes.ts";
import type { ForwardContext } from "../forward.ts";
import type { TurnContext } from "../../sessions/turn.ts";

/** What the Responses and Conversations routes use. */
export interface ResponsesRouteServices {
  forward: ForwardContext;
  sessions: SessionService;
  /** The served models; a conversation made without a model gets the first. */
  models(): string[];
  /** Told the replica of each turn; see {@linkcode TurnContext.homes}. */
  homes?: TurnContext["homes"];
}

/** What a 404 names: `Conversation`, `Response`, `Item`, ... and the request field at fault. */
export interface Missing {
  what: string;
  id: string;
  param?: string | null;
}

/** OpenAI's 404 for an unknown or malformed id. */
export function notFound(missing: Missing): Response {
  const code = `${missing.what.toLowerCase().replaceAll(" ", "_")}_not_found`;
  return errorResponse(404, `${missing.what} with id '${missing.id.slice(0, 140)}' not found`, {
    code,
    param: missing.param ?? null,
  });
}

/** The error for a session refusal; a 404 names the conversation, response or item asked for. */
export function refused(refusal: Refusal, missing?: Missing): Response {
  if (refusal.status === 404 && missing) return notFound(missing);
  return refusalResponse(refusal);
}

/**
 * Bytes of JSON that one request may add to a turn: a turn record, its reply included, must fit
 * one KV commit (600 KiB), and a record that does not fit is lost with its turn.
 */
export const MAX_TURN_INPUT_BYTES = 384 * 1024;

const encoder = new TextEncoder();

/** The 400 for new items (and what their turn keeps of the request) too big for one turn. */
export function tooLarge(kept: unknown, param: string): Response | undefined {
  const bytes = encoder.encode(JSON.stringify(kept)).length;
  if (bytes <= MAX_TURN_INPUT_BYTES) return undefined;
  return errorResponse(
    400,
    `The request's \`${param}\` is ${bytes} bytes as JSON, over the ${MAX_TURN_INPUT_BYTES} one turn can keep; split it over several requests`,
    { param, code: "input_too_large" },
  );
}

/** The request's id, or a new one. */
export function requestIdOf(request: Request): string {
  return request.headers.get("x-request-id") || crypto.randomUUID();
}

/** A conversation object for a session. */
export function conversationView(head: SessionHead): Record<string, unknown> {
  return {
    id: head.id,
    object: "conversation",
    created_at: Math.floor(head.created_at_ms / 1000),
    metadata: head.metadata,
  };
}
