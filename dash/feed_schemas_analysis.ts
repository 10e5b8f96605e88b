/**
 * The analysis endpoints the dashboards show (`/api/sessions`, `/api/bottlenecks`, `/api/slo`,
 * `/api/routing`): read as lists of flat records, so a panel shows whatever fields they carry.
 */
import { z } from "zod";

/** A scalar a panel can print. */
export type Scalar = string | number | boolean | null;

/** One item of a list endpoint: its scalar fields, and its nested values as JSON text. */
export type Item = Record<string, Scalar>;

function flatten(value: unknown): Item {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return { value: show(value) };
  }
  const out: Item = {};
  for (const [key, field] of Object.entries(value)) out[key] = show(field);
  return out;
}

function show(value: unknown): Scalar {
  if (value === null || value === undefined) return null;
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") {
    return value;
  }
  return JSON.stringify(value);
}

/** The first array among `keys` in an object body, or the body when it is itself an array. */
function listUnder(keys: readonly string[]) {
  return z.unknown().transform((body, ctx): Item[] => {
    if (Array.isArray(body)) return body.map(flatten);
    if (body !== null && typeof body === "object") {
      for (const key of keys) {
        const list = (body as Record<string, unknown>)[key];
        if (Array.isArray(list)) return list.map(flatten);
      }
    }
    ctx.addIssue({ code: "custom", message: `expected a list under ${keys.join(" or ")}` });
    return z.NEVER;
  });
}

/** `GET /api/sessions`. */
export const SessionsBody = listUnder(["sessions", "data"]);

/** `GET /api/bottlenecks`. */
export const BottlenecksBody = listUnder(["bottlenecks", "findings", "ranking", "data"]);

/** `GET /api/slo`. */
export const SloBody = listUnder(["slos", "slo", "objectives", "models", "data"]);

/** `GET /api/routing`: the strategy in force and its canary, shown as one record. */
export const RoutingBody = z.unknown().transform((body) => flatten(body));
