/**
 * `bench proxy --dashboards`: keeps both dashboards' feeds open on a gateway while it is
 * measured: the terminal dashboard's polls of the JSON endpoints and the web dashboard's SSE.
 */
import { fetchSnapshot, httpGetter } from "../../dash/feed.ts";

/** Seconds between the dashboards' updates: `deno task dash`'s and `/dashboard`'s default. */
export const DASHBOARD_INTERVAL_S = 2;

/** What the dashboards' feeds saw. */
export interface DashboardFeedStats {
  /** Polls of every endpoint the terminal dashboard reads. */
  polls: number;
  pollErrors: number;
  /** Mean time of one poll (all endpoints at once), in ms. */
  pollMeanMs: number;
  /** `update` events the SSE stream delivered. */
  events: number;
  eventErrors: number;
}

async function pollEvery(baseUrl: string, signal: AbortSignal) {
  const get = httpGetter(baseUrl);
  let polls = 0;
  let errors = 0;
  let totalMs = 0;
  while (!signal.aborted) {
    const started = performance.now();
    try {
      const snapshot = await fetchSnapshot(get);
      if (snapshot.backends.state !== "ok" || snapshot.stats.state !== "ok") errors++;
      polls++;
      totalMs += performance.now() - started;
    } catch {
      if (!signal.aborted) errors++;
    }
    const waitMs = Math.max(0, DASHBOARD_INTERVAL_S * 1000 - (performance.now() - started));
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, waitMs);
      signal.addEventListener("abort", () => {
        clearTimeout(timer);
        resolve();
      }, { once: true });
    });
  }
  return { polls, errors, meanMs: polls === 0 ? NaN : totalMs / polls };
}

async function holdEvents(baseUrl: string, signal: AbortSignal) {
  let events = 0;
  let errors = 0;
  while (!signal.aborted) {
    try {
      const response = await fetch(
        `${baseUrl}/dashboard/events?interval=${DASHBOARD_INTERVAL_S}`,
        { signal },
      );
      if (!response.ok || !response.body) {
        errors++;
        await response.body?.cancel();
        continue;
      }
      const decoder = new TextDecoder();
      let buffer = "";
      for await (const chunk of response.body) {
        const blocks = (buffer + decoder.decode(chunk, { stream: true })).split("\n\n");
        buffer = blocks.pop() ?? "";
        events += blocks.filter((b) => /^event: update$/m.test(b)).length;
      }
    } catch {
      if (!signal.aborted) errors++;
    }
  }
  return { events, errors };
}

/** Polls like `deno task dash` and holds `/dashboard/events` open on `baseUrl` until `signal` aborts. */
export async function watchDashboards(
  baseUrl: string,
  signal: AbortSignal,
): Promise<DashboardFeedStats> {
  const [poll, sse] = await Promise.all([pollEvery(baseUrl, signal), holdEvents(baseUrl, signal)]);
  return {
    polls: poll.polls,
    pollErrors: poll.errors,
    pollMeanMs: poll.meanMs,
    events: sse.events,
    eventErrors: sse.errors,
  };
}
