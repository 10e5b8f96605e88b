/** The hot path's side of admission control: a request's priority class, its ticket through the model's gate, and its wait for a slot. */
import {
  type Admission,
  AdmissionTicket,
  maxTokensOf,
  requestTokens,
  withVllmPriority,
} from "../../actors/admission/mod.ts";
import {
  type BackendView,
  CHARS_PER_TOKEN,
  ModelRouter,
  type RequestFeatures,
} from "../../actors/router/mod.ts";
import { principalOf, PRIORITY_CLASSES, type PriorityClass } from "../auth/principal.ts";
import { type Exchange, roundMs } from "./exchange.ts";
import type { ForwardRouter } from "./forward.ts";

/** One request under admission control, as `sendRouted` drives it. */
export interface AdmittedRequest {
  /** The router calls its attempts make: they count its KV tokens and its session's service. */
  router: ForwardRouter;
  /** The bytes sent upstream: with vLLM's `priority` field for a model with `scheduling_policy: priority`. */
  body: Uint8Array;
  /** Waits for a slot once `pick` found none: the backend, undefined when none is left, or the error answer. */
  wait(tried: ReadonlySet<string>): Promise<BackendView | undefined | Response>;
}

/**
 * The class of `request`: its principal's, or the priority header's when there is no principal
 * (auth is off) or the principal may choose (`priorityHeader`), else `fallback`. A header naming
 * no class is the client's mistake: the header's name is returned as `invalid`.
 */
export function priorityClassOf(
  request: Request,
  options: { header: string; fallback: PriorityClass },
): PriorityClass | { invalid: string } {
  const principal = principalOf(request);
  if (principal === undefined || principal.priorityHeader) {
    const value = request.headers.get(options.header);
    if (value !== null) {
      const wanted = value.trim().toLowerCase();
      const known = PRIORITY_CLASSES.find((c) => c === wanted);
      return known ?? { invalid: options.header };
    }
  }
  return principal?.priority ?? options.fallback;
}

/**
 * Puts `request` under `admission`: undefined when the router is not a model router (nothing to
 * limit) or admission is off, a 400 answer for a priority header that names no class, else its
 * ticket. `features.kvTokens` is set to the tokens it is expected to hold.
 */
export function admitRequest(
  request: Request,
  exchange: Exchange,
  routed: { model: string; json: unknown; bytes: Uint8Array },
  options: { admission: Admission; router: ForwardRouter; features: RequestFeatures },
): AdmittedRequest | Response | undefined {
  const { admission, router, features } = options;
  if (!admission.config.enabled || !(router instanceof ModelRouter)) return undefined;
  const { context, record } = exchange;
  const priority = priorityClassOf(request, {
    header: context.headers.priority,
    fallback: admission.config.default_priority,
  });
  if (typeof priority === "object") {
    return exchange.refuse(
      400,
      `The ${priority.invalid} header must be one of ${PRIORITY_CLASSES.join(", ")}`,
      { param: priority.invalid, code: "invalid_priority" },
    );
  }
  const tokens = requestTokens(features, maxTokensOf(routed.json), admission.capacity);
  features.kvTokens = tokens;
  const serviceKey = record.sessionId ?? record.clientId ?? principalOf(request)?.clientId;
  const gate = admission.gate(router);
  const ticket = new AdmissionTicket(gate, router, {
    tokens,
    promptTokens: Math.ceil(features.promptChars / CHARS_PER_TOKEN),
    generatedTokens: () => record.completionTokens,
    serviceKey,
    attained: admission.attained,
  });
  const body = admission.sendsPriority(routed.model)
    ? withVllmPriority(routed.bytes, admission.config.vllm_priority[priority])
    : routed.bytes;
  const deadlineAt = exchange.startedAt + context.proxy.request_timeout * 1000;
  record.priority = priority;
  return {
    router: ticket,
    body,
    async wait(tried) {
      const queuedAt = performance.now();
      const result = await gate.wait({
        features,
        exclude: tried,
        priority,
        rank: serviceKey === undefined ? 0 : admission.attained.of(serviceKey),
        arrivedAt: exchange.startedAt,
        deadlineAt,
        signal: exchange.abort.signal,
        reserve: (backend) => ticket.reserve(backend),
      });
      record.queueMs = roundMs((record.queueMs ?? 0) + performance.now() - queuedAt);
      switch (result.kind) {
        case "admitted":
          return result.backend;
        case "none":
          return undefined;
        case "aborted":
          return exchange.aborted();
        case "refused":
          return exchange.refuse(result.status, result.message, {
            code: result.code,
            retryAfter: String(result.retryAfterS),
            reason: result.code === "queue_full" ? "admission queue full" : "shed: overloaded",
          });
      }
    },
  };
}
