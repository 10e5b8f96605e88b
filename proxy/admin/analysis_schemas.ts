/** Queries and bodies of the analysis routes (`/api/bottlenecks`, `/api/sessions`, `/api/routing`), validated with zod. */
import { z } from "zod";
import { StrategySchema } from "../../config/schema.ts";

const UNIT_S: Record<string, number> = { s: 1, m: 60, h: 3600 };

/** Seconds in a duration such as `90`, `30s`, `15m` or `1h`; undefined when it is not one. */
export function parseDurationS(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)([smh]?)$/.exec(text.trim());
  if (!match) return undefined;
  return Number(match[1]) * (UNIT_S[match[2] || "s"] ?? 1);
}

/** A query duration (`30s`, `15m`, `1h` or bare seconds) from `minS` to `maxS`, as seconds. */
function duration(minS: number, maxS: number, fallback: string) {
  const expected = `expected a duration such as 30s, 15m or 1h, from ${minS} s to ${maxS / 3600} h`;
  return z.string().default(fallback).transform((text, ctx) => {
    const s = parseDurationS(text);
    if (s === undefined || s < minS || s > maxS) {
      ctx.addIssue({ code: "custom", message: expected });
      return z.NEVER;
    }
    return s;
  });
}

const text = z.string().min(1, "expected a non-empty value").optional();
const scope = z.enum(["local", "cluster"], "expected local or cluster").default("local");

/** `GET /api/bottlenecks`: the window and the filters of the turns analysed. */
export const BottlenecksQuery = z.strictObject({
  window: duration(1, 86_400, "15m"),
  session: text,
  task: text,
  model: text,
  scope,
});

/** A parsed `GET /api/bottlenecks` query. */
export type BottlenecksQueryInput = z.infer<typeof BottlenecksQuery>;

/** `GET /api/sessions`: sessions active within a window, a page at a time. */
export const SessionsQuery = z.strictObject({
  scope,
  active_within: duration(1, 86_400, "15m"),
  limit: z.string().regex(/^\d+$/, "expected an integer from 1 to 500").transform(Number).pipe(
    z.number().min(1, "expected an integer from 1 to 500").max(
      500,
      "expected an integer from 1 to 500",
    ),
  ).default(50),
  /** A previous page's `next_cursor`. */
  cursor: z.string().regex(/^s\d+$/, "expected a next_cursor from a previous page").optional(),
  model: text,
});

/** A parsed `GET /api/sessions` query. */
export type SessionsQueryInput = z.infer<typeof SessionsQuery>;

/** `POST /api/routing`: a model's (or every model's) new strategy, at once or as a canary. */
export const RoutingChangeBody = z.strictObject({
  /** The model to change; every model when absent. */
  model: z.string().min(1).max(256).optional(),
  strategy: StrategySchema,
  /** Share of sessions the new strategy takes first (0 < share < 1); applied to all at once without it. */
  canary_share: z.number().gt(0, "expected a share above 0").lt(
    1,
    "expected a share below 1; leave canary_share out to switch every session",
  ).optional(),
  /** Seconds (or `30s`, `5m`) the canary runs before it is judged. @default 300 */
  canary_window: z.union([
    z.number().min(1, "expected at least 1 second").max(86_400, "expected at most 86400 seconds"),
    z.string().transform((t, ctx) => {
      const s = parseDurationS(t);
      if (s === undefined || s < 1 || s > 86_400) {
        ctx.addIssue({ code: "custom", message: "expected a duration such as 30s or 5m" });
        return z.NEVER;
      }
      return s;
    }),
  ]).optional(),
}).refine((b) => b.canary_window === undefined || b.canary_share !== undefined, {
  message: "canary_window needs canary_share",
  path: ["canary_window"],
});

/** A parsed `POST /api/routing` body. */
export type RoutingChangeInput = z.infer<typeof RoutingChangeBody>;
