/** Bodies of the admin API, validated with zod. */
import { z } from "zod";

/** `POST /api/backends`: a replica started elsewhere registers (and re-posts as its heartbeat). */
export const RegisterBackendBody = z.strictObject({
  // Both end up in KV keys (at most 2 KiB): bounded, so a long one is a 400 and not a failed write.
  url: z.url().max(1024).refine(
    (u) => u.startsWith("http://") || u.startsWith("https://"),
    "expected an http(s) URL",
  ),
  model: z.string().min(1).max(256),
  /** Seconds without a heartbeat after which the registration expires. */
  ttl_seconds: z.number().positive().max(86_400).default(30),
  /** A stable id; derived from the URL when absent. */
  id: z.string().min(1).max(200).regex(
    /^[A-Za-z0-9._:-]+$/,
    "use letters, digits, '.', '_', ':' or '-'",
  ).optional(),
});

/** A parsed registration. */
export type RegisterBackendInput = z.infer<typeof RegisterBackendBody>;

const SCOPES = ["local", "cluster"] as const;

/** Which records a query reads: this gateway process's, or every process's on the KV store. */
const scope = z.enum(SCOPES, "expected local or cluster").default("local");

/** A query parameter that is a whole number from `min` to `max`. */
function wholeNumber(min: number, max: number) {
  return z.string().regex(/^\d+$/, `expected an integer from ${min} to ${max}`).transform(Number)
    .pipe(
      z.number().min(min, `expected an integer from ${min} to ${max}`).max(
        max,
        `expected an integer from ${min} to ${max}`,
      ),
    );
}

const text = z.string().min(1, "expected a non-empty value").optional();

/** `GET /api/requests`: a page of request records, newest first, with filters. */
export const RequestsQuery = z.strictObject({
  scope,
  limit: wholeNumber(1, 1000).default(50),
  /** A previous page's `next_cursor`: `l` (local) or `c` (cluster) and a position. */
  cursor: z.string().regex(/^[lc]\d+$/, "expected a next_cursor from a previous page").optional(),
  session: text,
  task: text,
  client: text,
  model: text,
  backend: text,
  endpoint: text,
  status: z.string().regex(
    /^[1-5](\d\d|xx)$/,
    "expected a status such as 502 or a class such as 5xx",
  )
    .optional(),
}).refine((q) => q.cursor === undefined || q.cursor[0] === q.scope[0], {
  message: "the cursor comes from a page of the other scope; send the scope it came with",
  path: ["cursor"],
});

/** A parsed `GET /api/requests` query. */
export type RequestsQueryInput = z.infer<typeof RequestsQuery>;

/** `GET /api/stats`: summary figures and the newest records. */
export const StatsQuery = z.strictObject({
  scope,
  limit: wholeNumber(0, 10_000).default(100),
  session: text,
});
