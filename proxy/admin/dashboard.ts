/**
 * The web dashboard: `GET /dashboard` (the page, public: it holds no data), its script and uPlot
 * under `/dashboard/assets/` (served from node_modules, no CDN, no build step), and
 * `GET /dashboard/events`, an admin route once auth is on: Server-Sent Events, one `update` per
 * interval carrying the same view model the terminal dashboard draws.
 */
import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import { createRequire } from "node:module";
import { z } from "zod";
import type { GetPath } from "../../dash/feed.ts";
import { Poller } from "../../dash/poller.ts";
import { viewModel } from "../../dash/view_model.ts";
import { CREDENTIAL_HEADERS } from "../auth/credentials.ts";
import { errorResponse } from "../errors.ts";

/** What the dashboard routes use. */
export interface DashboardServices {
  /** Answers a request as the gateway would (its own app), so the feed passes the same auth. */
  fetch: (request: Request) => Response | Promise<Response>;
  /** Aborted when the gateway closes: every event stream ends then. */
  closing?: AbortSignal;
}

/** `GET /dashboard/events`'s query. */
const EventsQuery = z.strictObject({
  /** Seconds between updates. */
  interval: z.string().regex(/^\d+(\.\d+)?$/, "expected seconds, from 0.2 to 60").transform(Number)
    .pipe(
      z.number().min(0.2, "expected seconds, from 0.2 to 60").max(
        60,
        "expected seconds, from 0.2 to 60",
      ),
    )
    .default(2),
});

const WEB = new URL("../../dash/web/", import.meta.url);
const require = createRequire(import.meta.url);

/** The static files, by their path under `/dashboard/assets/`: where each is read from, and its type. */
const ASSETS: Record<string, { file: () => string | URL; type: string }> = {
  "app.js": { file: () => new URL("app.js", WEB), type: "text/javascript; charset=utf-8" },
  "app.css": { file: () => new URL("app.css", WEB), type: "text/css; charset=utf-8" },
  "uplot.js": {
    file: () => require.resolve("uplot/dist/uPlot.iife.min.js"),
    type: "text/javascript; charset=utf-8",
  },
  "uplot.css": {
    file: () => require.resolve("uplot/dist/uPlot.min.css"),
    type: "text/css; charset=utf-8",
  },
};

/** Each file is read once, on first use. */
const cache = new Map<string, Promise<string>>();

function read(name: string, file: string | URL): Promise<string> {
  let text = cache.get(name);
  if (text === undefined) {
    text = Deno.readTextFile(file);
    text.catch(() => cache.delete(name));
    cache.set(name, text);
  }
  return text;
}

/** The headers of `request` that carry its credential, for the feed's own requests. */
function credentialsOf(request: Request): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name of CREDENTIAL_HEADERS) {
    const value = request.headers.get(name);
    if (value !== null) headers[name] = value;
  }
  return headers;
}

/** The dashboard's routes. */
export function dashboardRoutes(services: DashboardServices): Hono {
  const app = new Hono();

  app.get("/dashboard", async (c) => {
    const page = await read("page.html", new URL("page.html", WEB));
    return c.html(page, 200, { "cache-control": "no-cache" });
  });

  app.get("/dashboard/assets/:name", async (c) => {
    const asset = ASSETS[c.req.param("name")];
    if (!asset) {
      return errorResponse(404, `No dashboard asset "${c.req.param("name")}"`, {
        code: "not_found",
      });
    }
    let file: string | URL;
    try {
      file = asset.file();
    } catch {
      return errorResponse(
        503,
        "uPlot is not in node_modules; run `deno install` where turnpike is",
        {
          code: "dashboard_asset_missing",
        },
      );
    }
    const text = await read(c.req.param("name"), file);
    return c.body(text, 200, { "content-type": asset.type, "cache-control": "no-cache" });
  });

  app.get("/dashboard/events", (c) => {
    const parsed = EventsQuery.safeParse(c.req.query());
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const param = issue?.path.join(".") || null;
      const message = issue?.code === "unrecognized_keys"
        ? `Unknown query parameter "${issue.keys[0]}"; remove it`
        : `Query ${param ?? "string"} is invalid: ${issue?.message ?? "invalid"}`;
      return errorResponse(400, message, { param, code: "invalid_query" });
    }
    const intervalMs = parsed.data.interval * 1000;
    const headers = credentialsOf(c.req.raw);
    const get: GetPath = async (path) =>
      await services.fetch(new Request(new URL(path, "http://turnpike.dashboard"), { headers }));
    return streamSSE(c, async (stream) => {
      const done = Promise.withResolvers<void>();
      let sending = Promise.resolve();
      const poller = new Poller(get, {
        intervalMs,
        onUpdate: (state) => {
          const data = JSON.stringify(viewModel(state, Date.now()));
          sending = sending.then(() => stream.writeSSE({ event: "update", data })).catch(() =>
            done.resolve()
          );
        },
      });
      const end = () => done.resolve();
      stream.onAbort(end);
      services.closing?.addEventListener("abort", end, { once: true });
      if (services.closing?.aborted) end();
      poller.start();
      try {
        await done.promise;
      } finally {
        poller.stop();
        services.closing?.removeEventListener("abort", end);
      }
    });
  });

  return app;
}
