/** Test helpers of the router: members, reports and links without an actor system. */
import type { ActorRef } from "../runtime/mod.ts";
import type { BackendMessage, BackendReport } from "../backend/mod.ts";
import type { BackendLink, Member } from "./routing_table.ts";
import type { RequestFeatures } from "./strategies/mod.ts";

/** A request with no session and no prefix. */
export const REQUEST: RequestFeatures = {
  model: "m",
  sessionId: undefined,
  prefixHashes: [],
  promptChars: 10,
};

/** A static member `id` of model `m` at `http://127.0.0.1/<id>`. */
export function member(id: string, url = `http://127.0.0.1/${id}`): Member {
  return {
    id,
    url,
    source: "static",
    address: `backend/m/${id}`,
    ttlMs: undefined,
    expiresAtMs: undefined,
  };
}

/** A report of backend `id`, eligible or not. */
export function report(id: string, eligible: boolean): BackendReport {
  return {
    id,
    model: "m",
    url: `http://127.0.0.1/${id}`,
    source: "static",
    eligible,
    healthy: eligible,
    circuit: "closed",
    ewmaTtftMs: undefined,
    ewmaLatencyMs: undefined,
    metrics: undefined,
    inFlight: 0,
    completed: 0,
    failed: 0,
    lastError: undefined,
  };
}

/** A link whose actor keeps the messages it is told. */
export function link(told: BackendMessage[] = []): BackendLink {
  const actor: ActorRef<BackendMessage> = {
    address: "backend/m/stub",
    tell: (msg) => void told.push(msg),
    ask: () => Promise.reject(new Error("the stub actor answers no asks")),
  };
  return { actor, inFlight: { value: 0 } };
}
