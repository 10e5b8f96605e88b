/** The /v1/sessions routes: create, read, list, extend, delete, history, turns and cancel. */
import { Hono } from "hono";
import {
  type ChatMessage,
  currentOwner,
  type Refusal,
  type SessionService,
} from "../../actors/session/mod.ts";
import { errorResponse, modelNotFound } from "../errors.ts";
import type { ForwardContext } from "../openai/forward.ts";
import { jsonBody, parseJsonBody, parseValue } from "../json_body.ts";
import {
  CreateSessionBody,
  ExtendBody,
  HistoryQuery,
  ListQuery,
  TURN_OWN_FIELDS,
  TurnBody,
} from "./schemas.ts";
import { runTurn, type TurnCall, type TurnContext } from "./turn.ts";
import { compactionView, sentPrompts, sessionView, turnView } from "./views.ts";
import { sessionSocket } from "./ws.ts";
import { allowsModel, principalOf } from "../auth/principal.ts";
import { modelNotAllowed } from "../auth/refusals.ts";

/** What the session routes use. */
export interface SessionRouteServices {
  forward: ForwardContext;
  sessions: SessionService;
  /** Told the replica of each turn; see {@linkcode TurnContext.homes}. */
  homes?: TurnContext["homes"];
  now?: () => number;
}

/** An OpenAI-shaped error for a refusal. */
export function refusalResponse(r: Refusal): Response {
  return errorResponse(r.status, r.message, {
    code: r.code,
    param: r.param ?? null,
    ...(r.retryAfter === undefined ? {} : { headers: { "retry-after": String(r.retryAfter) } }),
  });
}

/** Parses a turn body into the call a route runs; a Response is the 400 to send. */
export function turnCall(
  sessionId: string,
  raw: unknown,
  source: TurnCall["request"]["source"],
  requestId: string,
): TurnCall | Response {
  const parsed = parseValue(raw, TurnBody);
  if (!parsed.ok) return parsed.response;
  const body = parsed.value;
  const messages: ChatMessage[] = body.messages ??
    [typeof body.message === "string" ? { role: "user", content: body.message } : body.message!];
  const params: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (!(TURN_OWN_FIELDS as readonly string[]).includes(k)) params[k] = v;
  }
  return {
    sessionId,
    stream: body.stream === true,
    params,
    request: {
      messages,
      source,
      requestId,
      maxTokens: body.max_tokens ?? body.max_completion_tokens ?? undefined,
      ...(Array.isArray(params.tools) ? { tools: params.tools } : {}),
      ...(body.model === undefined ? {} : { extra: { model: body.model } }),
    },
  };
}

/** The routes, mounted at the app's root. */
export function sessionRoutes(services: SessionRouteServices): Hono {
  const { sessions } = services;
  const now = services.now ?? Date.now;
  const app = new Hono();
  const turnContext: TurnContext = {
    forward: services.forward,
    sessions,
    ...(services.homes ? { homes: services.homes } : {}),
  };

  app.post("/v1/sessions", async (c) => {
    const body = await parseJsonBody(c.req.raw, CreateSessionBody);
    if (!body.ok) return body.response;
    const b = body.value;
    if (!services.forward.router(b.model)) {
      return modelNotFound(b.model);
    }
    if (!allowsModel(principalOf(c.req.raw), b.model)) return modelNotAllowed(b.model);
    const headers = services.forward.headers;
    const created = await sessions.create({
      model: b.model,
      system: b.system,
      metadata: b.metadata,
      task_id: b.task_id ?? c.req.header(headers.task) ?? null,
      client_id: b.client_id ?? currentOwner() ?? c.req.header(headers.client) ?? null,
      ttl_seconds: b.ttl_seconds,
      on_busy: b.on_busy,
      compression: b.compression,
      limits: b.limits,
    });
    if (!created.ok) return refusalResponse(created.refusal);
    return c.json(sessionView(created.head, now()), 201);
  });

  app.get("/v1/sessions", async (c) => {
    const query = parseValue(c.req.query(), ListQuery);
    if (!query.ok) return query.response;
    const { limit, after, ...filter } = query.value;
    const page = await sessions.list(filter, after === undefined ? { limit } : { limit, after });
    return c.json({
      object: "list",
      data: page.items.map((h) => sessionView(h, now(), sessions.running(h.id)?.turn)),
      has_more: page.next !== undefined,
      next_cursor: page.next ?? null,
    });
  });

  app.get("/v1/sessions/:id", async (c) => {
    const found = await sessions.get(c.req.param("id"));
    if (!found.ok) return refusalResponse(found.refusal);
    const head = found.found.head;
    return c.json(sessionView(head, now(), sessions.running(head.id)?.turn));
  });

  app.delete("/v1/sessions/:id", async (c) => {
    const found = await sessions.delete(c.req.param("id"));
    if (!found.ok) return refusalResponse(found.refusal);
    return c.json({ id: found.found.head.id, object: "session.deleted", deleted: true });
  });

  app.post("/v1/sessions/:id/extend", async (c) => {
    const body = await parseJsonBody(c.req.raw, ExtendBody, { emptyIsObject: true });
    if (!body.ok) return body.response;
    const found = await sessions.extend(c.req.param("id"), body.value.ttl_seconds);
    if (!found.ok) return refusalResponse(found.refusal);
    const head = found.found.head;
    return c.json(sessionView(head, now(), sessions.running(head.id)?.turn));
  });

  app.get("/v1/sessions/:id/history", async (c) => {
    const found = await sessions.get(c.req.param("id"));
    if (!found.ok) return refusalResponse(found.refusal);
    const query = parseValue(c.req.query(), HistoryQuery);
    if (!query.ok) return query.response;
    const head = found.found.head;
    const page = await sessions.history(head.id, query.value.after, query.value.limit);
    const withSent = query.value.include === "sent";
    const prompts = withSent ? await sentPrompts(sessions.store, head, page.items) : [];
    const compactions = await sessions.store.compactions(head.id);
    return c.json({
      object: "list",
      session_id: head.id,
      data: page.items.map((t, i) => turnView(t, withSent ? prompts[i] : undefined)),
      compactions: compactions.map(compactionView),
      has_more: page.next !== undefined,
      next_cursor: page.next ?? null,
    });
  });

  // `/chat/completions` too, so an OpenAI client whose baseURL is `/v1/sessions/:id` takes turns.
  app.on("POST", ["/v1/sessions/:id/chat", "/v1/sessions/:id/chat/completions"], async (c) => {
    const raw = await jsonBody(c.req.raw);
    if (!raw.ok) return raw.response;
    const requestId = c.req.header("x-request-id") || crypto.randomUUID();
    const call = turnCall(c.req.param("id"), raw.value, "session", requestId);
    if (call instanceof Response) return call;
    return runTurn(c.req.raw, turnContext, call);
  });

  app.post("/v1/sessions/:id/cancel", async (c) => {
    const result = await sessions.cancel(c.req.param("id"));
    if (!result.ok) return refusalResponse(result.refusal);
    return c.json({
      id: c.req.param("id"),
      object: "session.cancel",
      turn: result.turn,
      cancelled: result.turn !== null,
    });
  });

  app.get(
    "/v1/sessions/:id/ws",
    (c) => sessionSocket(c.req.raw, { ...turnContext, sessionId: c.req.param("id") }),
  );

  return app;
}
