/** The dashboards' analysis routes: `GET /api/bottlenecks` and `GET /api/sessions`, computed from request records when asked. */
import { Hono } from "hono";
import type { RecordLog } from "../record_log.ts";
import type { RecordStore, RequestRecord } from "../records.ts";
import { BottlenecksQuery, SessionsQuery } from "./analysis_schemas.ts";
import type { BottlenecksResponse, SessionsResponse } from "./api_types.ts";
import { analyzeBottlenecks } from "./bottlenecks/mod.ts";
import { parseQuery } from "./routes.ts";
import { sessionSummaries } from "./session_summaries.ts";

/** What the analysis routes read. */
export interface AnalysisServices {
  /** This process's records. */
  records: Pick<RecordStore, "recent">;
  /** Every process's records on the KV store, for `scope=cluster`. */
  log: Pick<RecordLog, "snapshot">;
  /** Clock in ms since the epoch. @default Date.now */
  now?: () => number;
}

/** The records of `scope`: this process's (immediate) or the KV store's (within a flush interval). */
async function recordsOf(
  services: AnalysisServices,
  scope: "local" | "cluster",
): Promise<Iterable<RequestRecord>> {
  if (scope === "local") return services.records.recent();
  return (await services.log.snapshot()).records;
}

/** `GET /api/bottlenecks` and `GET /api/sessions` (admin routes once auth is on, as every `/api/` route). */
export function analysisRoutes(services: AnalysisServices): Hono {
  const now = services.now ?? Date.now;
  const app = new Hono();

  app.get("/api/bottlenecks", async (c) => {
    const query = parseQuery(c.req.query(), BottlenecksQuery);
    if (!query.ok) return query.response;
    const { window, session, task, model, scope } = query.value;
    const body: BottlenecksResponse = analyzeBottlenecks(await recordsOf(services, scope), {
      windowS: window,
      nowMs: now(),
      ...(session === undefined ? {} : { session }),
      ...(task === undefined ? {} : { task }),
      ...(model === undefined ? {} : { model }),
    });
    return c.json(body);
  });

  app.get("/api/sessions", async (c) => {
    const query = parseQuery(c.req.query(), SessionsQuery);
    if (!query.ok) return query.response;
    const { scope, active_within, limit, cursor, model } = query.value;
    const rows = sessionSummaries(await recordsOf(services, scope), {
      sinceMs: now() - active_within * 1000,
      ...(model === undefined ? {} : { model }),
    });
    const offset = cursor === undefined ? 0 : Number(cursor.slice(1));
    const data = rows.slice(offset, offset + limit);
    const more = offset + limit < rows.length;
    const body: SessionsResponse = {
      object: "list",
      scope,
      total: rows.length,
      data,
      has_more: more,
      next_cursor: more ? `s${offset + limit}` : null,
    };
    return c.json(body);
  });

  return app;
}
