/** Turnpike's client helper for TypeScript agents: session and timing headers for any OpenAI SDK. */
export {
  DEFAULT_SESSION_HEADERS,
  SessionContext,
  type SessionContextOptions,
  type SessionHeaderNames,
  type SessionTiming,
} from "./session_context.ts";
