/**
 * Session expiry by durable timer: creating or extending a session enqueues an `expire` message
 * with a KV delay; it survives restarts and fires once (the runtime drops a redelivery). The
 * handler reads the head: a session extended since is rescheduled, an expired one deleted or
 * archived as configured.
 */
import { z } from "zod";
import { address, type Behavior } from "../runtime/mod.ts";
import type { SessionStore, VersionedHead } from "./store.ts";

/** The reaper's actor kind (one per process, receiving every session's timer). */
export const REAPER_KIND = "session_reaper";

/** Its address. */
export const REAPER_ADDRESS = address(REAPER_KIND, "main");

/** KV queue delays are capped at 30 days; a longer TTL is reached in hops. */
export const MAX_TIMER_DELAY_MS = 29 * 24 * 3600_000;

/** The timer message. */
export const ExpireMessage = z.object({
  type: z.literal("expire"),
  session: z.string(),
  /** The expiry time this timer was set for. */
  at_ms: z.number(),
});

/** The timer message's shape. */
export type ExpireMessage = z.infer<typeof ExpireMessage>;

/** What the reaper needs. */
export interface ReaperDeps {
  store: SessionStore;
  now(): number;
  /** `delete` removes an expired session's records; `archive` keeps them. */
  onExpire: "delete" | "archive";
  /** Told when a session expired, so its live actor drops its cache. */
  expired(id: string): void;
}

/** The timer id of a session's expiry at `atMs`: the same timer is never enqueued twice. */
export function expiryTimerId(session: string, atMs: number): string {
  return `expire:${session}:${atMs}`;
}

/**
 * Ends `found`, a session past its TTL, as `onExpire` says: removes its records, or archives it
 * read-only; either way it leaves the active counters once. False when its head changed since
 * it was read.
 */
export async function expireSession(
  store: SessionStore,
  found: VersionedHead,
  onExpire: "delete" | "archive",
  now: number,
): Promise<boolean> {
  const { head } = found;
  if (onExpire === "delete") return await store.remove(head, found.versionstamp, true);
  const archived = { ...head, state: "expired" as const, inflight: null, updated_at_ms: now };
  const vs = await store.commit(archived, found.versionstamp, {
    active: { delta: -1, clientId: head.client_id },
  });
  return vs !== undefined;
}

/** The reaper behaviour. */
export function reaperBehavior(deps: ReaperDeps): Behavior<null, ExpireMessage> {
  return {
    kind: REAPER_KIND,
    init: () => null,
    async receive(state, raw, ctx) {
      const parsed = ExpireMessage.safeParse(raw);
      if (!parsed.success) return state;
      const msg = parsed.data;
      const found = await deps.store.get(msg.session);
      if (!found || found.head.state !== "active") return state;
      const { head } = found;
      const now = deps.now();
      if (head.expires_at_ms > now) {
        // Extended since: the extend set its own timer, but a hop of a long TTL lands here.
        if (head.expires_at_ms !== msg.at_ms) return state;
        const delayMs = Math.min(head.expires_at_ms - now, MAX_TIMER_DELAY_MS);
        ctx.tellDurable(REAPER_ADDRESS, msg, {
          delayMs,
          id: `${expiryTimerId(msg.session, msg.at_ms)}:${now}`,
        });
        return state;
      }
      if (!(await expireSession(deps.store, found, deps.onExpire, now))) {
        throw new Error(`Session ${head.id} changed while expiring; the timer retries`);
      }
      deps.expired(head.id);
      return state;
    },
  };
}
