/**
 * The job actors' view of the gateway's routers ({@linkcode ReplicaRouting}) over its Fleet: a
 * healthy replica is added as a `launched` backend (as the local ReplicaActor's are), retired
 * before its job is cancelled, and its load (scraped waiting and KV usage, in flight, sessions it
 * served last) feeds autoscaling.
 */
import type { Fleet } from "../router/mod.ts";
import type { ReplicaLoadReport, ReplicaRouting } from "./driver.ts";

/** A request as the routing view counts sessions from it. */
export interface RoutedRequest {
  backendId?: string | undefined;
  sessionId?: string | undefined;
}

/**
 * Sessions per backend among `records` (newest first): each session counts once, for the
 * backend its newest request went to, which is the one holding its prefix in cache.
 */
export function sessionsByBackend(records: Iterable<RoutedRequest>): Map<string, number> {
  const seen = new Set<string>();
  const counts = new Map<string, number>();
  for (const record of records) {
    if (record.sessionId === undefined || record.backendId === undefined) continue;
    if (seen.has(record.sessionId)) continue;
    seen.add(record.sessionId);
    counts.set(record.backendId, (counts.get(record.backendId) ?? 0) + 1);
  }
  return counts;
}

/** Options of {@linkcode fleetRouting}. */
export interface FleetRoutingOptions {
  /** The gateway's recent requests, newest first (for the sessions each replica holds). */
  recent?: () => Iterable<RoutedRequest>;
  /** How long `register` waits for the router to find the replica eligible, in ms. @default 15000 */
  eligibleWithinMs?: number;
}

/** The {@linkcode ReplicaRouting} of a gateway's `fleet`. */
export function fleetRouting(fleet: Fleet, options: FleetRoutingOptions = {}): ReplicaRouting {
  return {
    async register(model, id, url) {
      await fleet.addBackend(model, { id, url, source: "launched" });
      // Resolved once the router's own probe lets it take traffic (bounded), so a replica that
      // replaces another is routable before the other retires.
      const deadline = Date.now() + (options.eligibleWithinMs ?? 15_000);
      while (Date.now() < deadline && !fleet.router(model)?.get(id)?.report?.eligible) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async retire(model, id) {
      // Read before the removal: requests already routed there keep this count.
      const view = fleet.router(model)?.get(id)?.view;
      await fleet.removeBackend(id, model);
      return () => view?.inFlight ?? 0;
    },
    load(model) {
      const sessions = sessionsByBackend(options.recent?.() ?? []);
      const out = new Map<string, ReplicaLoadReport>();
      for (const { member, report, view } of fleet.router(model)?.list() ?? []) {
        out.set(member.id, {
          waiting: report?.metrics?.waiting,
          kvUsage: report?.metrics?.kvUsage,
          inFlight: view.inFlight,
          sessions: sessions.get(member.id) ?? 0,
        });
      }
      return out;
    },
  };
}
