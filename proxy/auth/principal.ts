/**
 * Who sent a request, as authentication established it: the client id, the models it may use, its
 * priority class and its limits. The auth middleware attaches it to the request; everything after
 * (the model check, limits, admission) reads it back with {@linkcode principalOf}.
 */

/** The priority classes, most urgent first. */
export const PRIORITY_CLASSES = ["high", "medium", "low"] as const;
/** A priority class. */
export type PriorityClass = (typeof PRIORITY_CLASSES)[number];

/** Limits carried by a key or token; absent fields fall back to the configured defaults. */
export interface PrincipalLimits {
  /** Requests per minute. */
  requestsPerMinute?: number;
  /** Prompt plus completion tokens per minute. */
  tokensPerMinute?: number;
  /** Requests in flight at once. */
  maxConcurrent?: number;
}

/** An authenticated caller. */
export interface Principal {
  /** How it proved who it is. */
  kind: "key" | "jwt" | "admin";
  /** The client id limits and fairness are kept by. */
  clientId: string;
  /** The key's id, or the token's `jti`/`sub`, for records and revocation. */
  credentialId: string;
  /** The models it may call; `"*"` for all. */
  models: readonly string[] | "*";
  /** Its priority class, when the key or token sets one. */
  priority: PriorityClass | undefined;
  /** Whether a request may choose its class by the priority header. */
  priorityHeader: boolean;
  /** Its own limits. */
  limits: PrincipalLimits;
  /** Whether it may call the admin routes. */
  admin: boolean;
}

const principals = new WeakMap<Request, Principal>();

/** Attaches `principal` to `request` (the auth middleware does, once it verified the credentials). */
export function setPrincipal(request: Request, principal: Principal): void {
  principals.set(request, principal);
}

/** The principal attached to `request`; undefined when auth is off. */
export function principalOf(request: Request): Principal | undefined {
  return principals.get(request);
}

/** Whether `principal` may call `model` (anyone may when auth is off). */
export function allowsModel(principal: Principal | undefined, model: string): boolean {
  return principal === undefined || principal.models === "*" || principal.models.includes(model);
}
