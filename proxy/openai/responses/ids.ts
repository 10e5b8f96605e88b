/**
 * Response and conversation ids. A Response id spells out its session and turn, so a Response is
 * found again after a restart, on any gateway process, with no index kept anywhere.
 */
import { isSessionId, newSessionId } from "../../../actors/session/mod.ts";

/** The session turn a Response is. */
export interface ResponseTurn {
  sessionId: string;
  turn: number;
}

const RESPONSE_ID = /^resp_((?:[0-9a-f]{2})+)_([1-9][0-9]{0,14})$/;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** `resp_`, the session id's UTF-8 bytes in hex, `_` and the turn number. */
export function responseId(sessionId: string, turn: number): string {
  let hex = "";
  for (const b of encoder.encode(sessionId)) hex += b.toString(16).padStart(2, "0");
  return `resp_${hex}_${turn}`;
}

/** The session and turn `id` names, or undefined when it is no Response id of this gateway. */
export function parseResponseId(id: string): ResponseTurn | undefined {
  const match = RESPONSE_ID.exec(id);
  if (!match) return undefined;
  const hex = match[1]!;
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  let sessionId: string;
  try {
    sessionId = decoder.decode(bytes);
  } catch {
    return undefined;
  }
  if (!isSessionId(sessionId)) return undefined;
  return { sessionId, turn: Number(match[2]) };
}

/** A new conversation (session) id: `conv_` and 24 random base-36 characters. */
export function newConversationId(): string {
  return `conv_${newSessionId().slice("sess_".length)}`;
}
