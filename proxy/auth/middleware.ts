/**
 * The Hono middleware that authenticates every request but the public ones once `auth.enabled`,
 * attaches its principal, and keeps the admin routes to the admin key.
 */
import type { MiddlewareHandler } from "hono";
import type { Authenticator } from "./authenticator.ts";
import { setPrincipal } from "./principal.ts";
import { asOwner } from "../../actors/session/mod.ts";
import { adminRequired, authRefusal } from "./refusals.ts";
import { logger } from "../../actors/runtime/log.ts";

/** Paths any caller may `GET` without credentials. */
export const PUBLIC_PATHS: ReadonlySet<string> = new Set(["/health", "/metrics", "/dashboard"]);

/** Whether any caller may `GET` `path` without credentials: {@linkcode PUBLIC_PATHS} and the dashboard's static files (no data). */
export function isPublicPath(path: string): boolean {
  return PUBLIC_PATHS.has(path) || path.startsWith("/dashboard/assets/");
}

/**
 * Whether `path` is an admin route: everything under `/api/`, `/health/detailed` and the web
 * dashboard's feed `/dashboard/events`. Writes
 * register backends and manage keys; reads show every client's requests and the replicas'
 * addresses, so a client's key may not read them either.
 */
export function isAdminRoute(_method: string, path: string): boolean {
  return path.startsWith("/api/") || path === "/health/detailed" || path === "/dashboard/events";
}

/** Logs a refusal (these requests have no record, so no access line): why, never the credential. */
function refused(method: string, path: string, reason: string, clientId?: string): void {
  if (!logger.enabled("info")) return;
  logger.info("request refused by auth", {
    method,
    path: path.length > 200 ? `${path.slice(0, 200)}...` : path,
    reason,
    ...(clientId === undefined ? {} : { client_id: clientId }),
  });
}

/** The auth middleware: a pass-through when `auth` is absent or off. */
export function authMiddleware(auth: Authenticator | undefined): MiddlewareHandler {
  return async function authenticate(c, next) {
    if (!auth?.enabled) return await next();
    const request = c.req.raw;
    const path = c.req.path;
    const method = request.method;
    if ((method === "GET" || method === "HEAD") && isPublicPath(path)) return await next();
    let outcome = auth.authenticate(request);
    if (outcome instanceof Promise) outcome = await outcome;
    if (!outcome.ok) {
      refused(method, path, outcome.reason);
      return authRefusal(outcome);
    }
    if (!outcome.principal.admin && isAdminRoute(method, path)) {
      refused(method, path, "admin_key_required", outcome.principal.clientId);
      return adminRequired(method, path);
    }
    const principal = outcome.principal;
    setPrincipal(request, principal);
    // A client's sessions are its own: the session service checks every one it reaches.
    if (principal.admin) await next();
    else await asOwner(principal.clientId, next);
  };
}
