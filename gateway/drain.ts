/** The gateway's drain at shutdown: refuse new requests with 503 while the streams in flight finish, up to a deadline. */
import type { Fleet } from "../actors/router/mod.ts";
import { errorResponse } from "../proxy/mod.ts";

/** Seconds a client is told to wait before it retries a request refused by a draining gateway. */
const RETRY_AFTER_SECONDS = "2";

/**
 * The answer to a request that comes while the gateway drains: a 503 `gateway_draining` with
 * Retry-After and `connection: close`, so a client on a kept-alive connection opens a new one
 * (to another gateway, or to this one once restarted).
 */
export function drainingRefusal(): Response {
  return errorResponse(
    503,
    "The gateway is shutting down; retry the request in a few seconds",
    {
      type: "server_error",
      code: "gateway_draining",
      headers: { "retry-after": RETRY_AFTER_SECONDS, connection: "close" },
    },
  );
}

/**
 * Requests the gateway has on its backends right now (streams being relayed included), from the
 * routers' own counts, which the hot path keeps synchronously.
 */
export function inFlightOf(fleet: Pick<Fleet, "models" | "router">): number {
  let total = 0;
  for (const { name } of fleet.models()) {
    for (const { view } of fleet.router(name)?.list() ?? []) total += view.inFlight;
  }
  return total;
}

/**
 * Resolves once `inFlight()` is 0 or `deadlineMs` have passed, polling every `everyMs`; resolves
 * to whether it drained.
 */
export async function drained(
  inFlight: () => number,
  deadlineMs: number,
  everyMs = 50,
): Promise<boolean> {
  const deadline = performance.now() + deadlineMs;
  while (inFlight() > 0) {
    if (performance.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  return true;
}
