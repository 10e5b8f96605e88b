/** `session_affinity`: a session's requests go to the replica that served it last, while that replica is within the load bound. */
import { BoundedLoads } from "./_scores.ts";
import type { BackendView, RequestFeatures, Strategy, StrategyOptions } from "./types.ts";
import type { PickExplanation } from "./pick_note.ts";

/** Sessions remembered at most; the least recently routed are forgotten first. */
export const MAX_SESSIONS = 100_000;

/**
 * Scores 1 for the session's replica while its load is within the bound; every other candidate
 * (and every candidate of a new or shed session) scores half its least-load score, so a
 * session without a home lands on the least busy replica. The chosen replica becomes the
 * session's home.
 */
export function sessionAffinity(options: StrategyOptions): Strategy {
  // Insertion order is recency: a routed session is moved to the end.
  const homes = new Map<string, string>();
  // The last score call's candidates and session home, for explain().
  let lastCandidates: readonly BackendView[] = [];
  let lastHome: string | undefined;
  const bounded = new BoundedLoads();
  return {
    name: "session_affinity",
    score(request: RequestFeatures, candidates: readonly BackendView[]): number[] {
      const { scores: loads, within } = bounded.measure(
        candidates,
        options.now(),
        options.loadBound,
      );
      const home = request.sessionId === undefined
        ? undefined
        : homes.get(request.sessionId) ?? request.homeBackend;
      lastCandidates = candidates;
      lastHome = home;
      if (home === undefined) return bounded.scoreList();
      return candidates.map((c, i) => c.id === home && within[i] ? 1 : 0.5 * loads[i]!);
    },
    explain(chosen: number): PickExplanation | undefined {
      if (lastHome === undefined) return undefined;
      return { reason: lastCandidates[chosen]?.id === lastHome ? "affinity" : "load_shed" };
    },
    observe(request: RequestFeatures, chosen: BackendView): void {
      const session = request.sessionId;
      if (session === undefined) return;
      homes.delete(session);
      homes.set(session, chosen.id);
      if (homes.size > MAX_SESSIONS) {
        const oldest = homes.keys().next().value;
        if (oldest !== undefined) homes.delete(oldest);
      }
    },
    forget(backendId: string): void {
      for (const [session, id] of homes) if (id === backendId) homes.delete(session);
    },
  };
}
