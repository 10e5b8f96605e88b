/** Test helpers of admission control: a model router over fake backends, without an actor system. */
import type { ActorRef } from "../runtime/mod.ts";
import type { BackendMessage, BackendReport, ScrapedLoad } from "../backend/mod.ts";
import {
  createPicker,
  ModelRouter,
  type RequestFeatures,
  RoutingTable,
  strategyOptions,
} from "../router/mod.ts";

/** A request of `promptChars` characters in session `sessionId`. */
export function request(promptChars = 400, sessionId?: string): RequestFeatures {
  return { model: "m", sessionId, prefixHashes: [], promptChars };
}

function report(id: string, metrics: ScrapedLoad | undefined): BackendReport {
  return {
    id,
    model: "m",
    url: `http://127.0.0.1/${id}`,
    source: "static",
    eligible: true,
    healthy: true,
    circuit: "closed",
    ewmaTtftMs: undefined,
    ewmaLatencyMs: undefined,
    metrics: metrics === undefined ? undefined : { ...metrics, prefixQueries: 0, prefixHits: 0 },
    inFlight: 0,
    completed: 0,
    failed: 0,
    lastError: undefined,
  };
}

const stubActor: ActorRef<BackendMessage> = {
  address: "backend/m/stub",
  tell: () => {},
  ask: () => Promise.reject(new Error("the stub actor answers no asks")),
};

/** A least-connections router of model `m` over eligible backends `ids`, each with `load` as its last scrape. */
export function routerOver(ids: string[], load?: ScrapedLoad): ModelRouter {
  const router = new ModelRouter(
    "m",
    createPicker(
      "least_connections",
      strategyOptions({ load_bound: 1.5, prefix_block_chars: 2048, prefix_cache_tokens: 430_000 }),
    ),
  );
  let table = RoutingTable.EMPTY;
  for (const id of ids) {
    table = table.put(
      {
        id,
        url: `http://127.0.0.1/${id}`,
        source: "static",
        address: `backend/m/${id}`,
        ttlMs: undefined,
        expiresAtMs: undefined,
      },
      report(id, load),
      { actor: stubActor, inFlight: { value: 0 } },
    );
  }
  router.publish(table);
  return router;
}
