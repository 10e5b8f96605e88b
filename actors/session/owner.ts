/**
 * The client a request acts for, as the sessions see it: once auth is on, a session belongs to
 * the client that made it, and a request of another client finds it as if it did not exist. The
 * auth middleware runs each authenticated, non-admin request inside {@linkcode asOwner}; the
 * session service reads {@linkcode currentOwner} where it reads, lists, creates or turns a
 * session, so every route (sessions, WebSocket, Conversations, Responses, recorded plain calls)
 * is covered in one place. Outside a request (timers, the reaper, admin calls) there is no owner.
 */
import { AsyncLocalStorage } from "node:async_hooks";

const scope = new AsyncLocalStorage<string>();

/** Runs `fn` on behalf of the client `owner`: the sessions it reaches must be that client's. */
export function asOwner<T>(owner: string, fn: () => T): T {
  return scope.run(owner, fn);
}

/** The client the running request acts for; undefined when auth is off, for admins and outside requests. */
export function currentOwner(): string | undefined {
  return scope.getStore();
}

/** Whether a session of client `clientId` is visible to the running request. */
export function visibleToOwner(clientId: string | null): boolean {
  const owner = scope.getStore();
  return owner === undefined || owner === clientId;
}
