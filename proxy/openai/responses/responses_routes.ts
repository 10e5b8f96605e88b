/**
 * `/v1/responses` on durable sessions: each Response is one session turn, run by the sessions'
 * `runTurn` and translated from its chat answer; a stored Response is rebuilt from its turn record.
 */
import { Hono } from "hono";
import { z } from "zod";
import {
  type ChatMessage,
  currentOwner,
  editTurn,
  type SessionService,
  type TurnRecord,
} from "../../../actors/session/mod.ts";
import { loadTokenCounter } from "../../../actors/session/compression/mod.ts";
import { errorResponse, modelNotFound } from "../../errors.ts";
import { allowsModel, principalOf } from "../../auth/principal.ts";
import { modelNotAllowed } from "../../auth/refusals.ts";
import { jsonBody, parseValue } from "../../json_body.ts";
import { runTurn, type TurnCall } from "../../sessions/turn.ts";
import { notFound, refused, requestIdOf, type ResponsesRouteServices, tooLarge } from "./_http.ts";
import { forkAt, resolveTarget, type Target } from "./_target.ts";
import { itemList } from "./from_chat.ts";
import { parseResponseId, responseId } from "./ids.ts";
import { relayResponseStream } from "./relay.ts";
import {
  exclusiveParamsError,
  type ResponseCreateBody,
  ResponseCreateBodySchema,
  toolChoiceError,
} from "./schemas.ts";
import { ResponseStreamTranslator } from "./stream.ts";
import { chatRequest, inputItems, itemsToMessages } from "./to_chat.ts";
import {
  itemPage,
  ItemPageQuerySchema,
  outputIds,
  requestFields,
  responseOfTurn,
  turnItems,
} from "./turn_items.ts";

/** The `/v1/responses` routes. */
export function responsesApiRoutes(services: ResponsesRouteServices): Hono {
  const { sessions } = services;
  const app = new Hono();

  app.post("/v1/responses", async (c) => {
    const raw = await jsonBody(c.req.raw);
    if (!raw.ok) return raw.response;
    const parsed = parseValue(raw.value, ResponseCreateBodySchema);
    if (!parsed.ok) return parsed.response;
    const body = parsed.value;
    const clash = exclusiveParamsError(body) ?? toolChoiceError(body);
    if (clash) return errorResponse(400, clash.message, { param: clash.param, code: clash.code });
    // Instructions that change are kept twice: as a message and as those in effect.
    const large = tooLarge({ body, instructions: body.instructions }, "input");
    if (large) return large;
    if (!services.forward.router(body.model)) {
      return modelNotFound(body.model);
    }
    if (!allowsModel(principalOf(c.req.raw), body.model)) return modelNotAllowed(body.model);
    const names = services.forward.headers;
    const target = await resolveTarget(body, services, {
      taskId: c.req.header(names.task) ?? null,
      clientId: currentOwner() ?? c.req.header(names.client) ?? null,
    });
    if (target instanceof Response) return target;
    return await respond(c.req.raw, services, body, target);
  });

  app.get("/v1/responses/:id", async (c) => {
    const found = await findResponse(sessions, c.req.param("id"));
    if (found instanceof Response) return found;
    return c.json(responseOfTurn(found.sessionId, found.record));
  });

  app.delete("/v1/responses/:id", async (c) => {
    const id = c.req.param("id");
    const found = await findResponse(sessions, id);
    if (found instanceof Response) return found;
    const edited = await editTurn(sessions, found.sessionId, found.record.turn, (record) => ({
      ...record,
      extra: { ...record.extra, response_deleted: true },
    }));
    if (!edited.ok) return refused(edited.refusal, { what: "Response", id });
    return c.json({ id, object: "response", deleted: true });
  });

  app.get("/v1/responses/:id/input_items", async (c) => {
    const id = c.req.param("id");
    const found = await findResponse(sessions, id);
    if (found instanceof Response) return found;
    const query = parseValue(c.req.query(), ItemPageQuerySchema);
    if (!query.ok) return query.response;
    const page = itemPage(turnItems(found.sessionId, found.record, true), query.value);
    if (!page) return notFound({ what: "Item", id: query.value.after ?? "", param: "after" });
    return c.json(itemList(page.items.map((t) => t.item), page.hasMore));
  });

  return app;
}

/** A stored Response's turn, or its 404. */
async function findResponse(
  sessions: SessionService,
  id: string,
): Promise<{ sessionId: string; record: TurnRecord } | Response> {
  const ref = parseResponseId(id);
  const record = ref ? await sessions.store.turn(ref.sessionId, ref.turn) : undefined;
  if (!ref || !record || !responseOfTurn(ref.sessionId, record)) {
    return notFound({ what: "Response", id });
  }
  return { sessionId: ref.sessionId, record };
}

/** Runs the turn of `body` on `target` and answers the Response, streamed or not. */
async function respond(
  request: Request,
  services: ResponsesRouteServices,
  body: ResponseCreateBody,
  target: Target,
): Promise<Response> {
  const { sessions } = services;
  const createdAt = Math.floor(Date.now() / 1000);
  const changed = !target.fresh && body.instructions != null &&
    body.instructions !== target.instructions;
  const messages: ChatMessage[] = [
    ...(changed ? [{ role: "developer" as const, content: body.instructions! }] : []),
    ...itemsToMessages(inputItems(body.input)),
  ];
  const dispose = async (t: Target, saved: boolean) => {
    if (t.temporary || (t.created && !saved)) await sessions.delete(t.head.id).catch(() => {});
  };
  const early = await refuseEarly(body, target, messages);
  if (early) {
    await dispose(target, false);
    return early;
  }
  const params = chatParams(body);
  const call = (sessionId: string): TurnCall => ({
    sessionId,
    stream: body.stream === true,
    params,
    request: {
      messages,
      source: "responses",
      requestId: requestIdOf(request),
      maxTokens: body.max_output_tokens ?? undefined,
      // The tool definitions are part of the prompt the budget counts.
      ...(Array.isArray(params.tools) ? { tools: params.tools } : {}),
      // In place only while the previous response is still the latest turn.
      ...(target.inPlace && sessionId === target.head.id
        ? { expectTurn: target.inPlace.turn + 1 }
        : {}),
      extra: {
        api: "responses",
        model: body.model,
        created_at: createdAt,
        request: requestFields(body),
        instructions: target.fresh
          ? body.instructions ?? null
          : changed
          ? body.instructions!
          : target.instructions,
        instructions_message: changed,
        instructions_given: body.instructions != null,
      },
    },
  });
  const run = (t: Target) =>
    runTurn(
      request,
      {
        forward: services.forward,
        sessions: onModel(sessions, body.model),
        ...(services.homes ? { homes: services.homes } : {}),
      },
      call(t.head.id),
    );
  let answer = await run(target);
  if (answer.status === 409 && target.inPlace) {
    // Another turn took the session first: this one branches off the same response instead.
    const forked = await forkAt(
      sessions,
      target.head.id,
      target.inPlace.turn,
      target.instructions,
      false,
    );
    if (forked instanceof Response) return forked;
    target = forked;
    answer = await run(target);
  }
  const sessionId = target.head.id;
  const turn = Number(answer.headers.get("x-session-turn"));
  if (answer.status !== 200 || !answer.body || !Number.isInteger(turn) || turn < 1) {
    await dispose(target, false);
    return answer.status === 400 ? await inResponsesTerms(answer, body) : answer;
  }
  const headers = new Headers(answer.headers);
  headers.delete("content-length");
  const stored = async () => {
    const record = await sessions.store.turn(sessionId, turn);
    return record ? responseOfTurn(sessionId, record) : undefined;
  };
  if (!body.stream) {
    await answer.body.cancel().catch(() => {});
    const response = await stored();
    await dispose(target, response !== undefined);
    if (!response) {
      return errorResponse(502, "The turn's answer was not saved; send the request again", {
        code: "turn_not_saved",
      });
    }
    headers.set("content-type", "application/json");
    return new Response(JSON.stringify(response), { status: 200, headers });
  }
  const translator = new ResponseStreamTranslator(body, {
    id: responseId(sessionId, turn),
    createdAt,
    itemId: outputIds(sessionId, turn, messages),
  });
  let saved = false;
  const stream = relayResponseStream(answer.body, translator, {
    committed: async () => {
      const response = await stored();
      saved = response !== undefined;
      return response;
    },
    finally: () => dispose(target, saved),
  });
  return new Response(stream, { status: 200, headers });
}

/** The 400 for a turn that cannot run as asked, checked before it is claimed. */
async function refuseEarly(
  body: ResponseCreateBody,
  target: Target,
  messages: ChatMessage[],
): Promise<Response | undefined> {
  if (target.head.next_turn === 1 && inputItems(body.input).length === 0) {
    return errorResponse(
      400,
      "A new response needs input; send `input` as a string or a list of items",
      {
        param: "input",
        code: "missing_input",
      },
    );
  }
  const { compression, usage } = target.head;
  if (target.fresh || body.truncation !== "disabled" || compression.method === "none") {
    return undefined;
  }
  // This session compacts past its threshold, and truncation "disabled" forbids that.
  const counter = await loadTokenCounter();
  let tokens = usage.context_tokens + (body.max_output_tokens ?? 0);
  for (const m of messages) tokens += counter.countMessage(m);
  const limit = Math.floor(compression.threshold * compression.budget_tokens);
  if (tokens <= limit) return undefined;
  return errorResponse(
    400,
    `This conversation's prompt would be about ${tokens} tokens, over the ${limit} it holds without truncation; send truncation: "auto" to let it be compacted, or shorten the input`,
    { param: "input", code: "context_length_exceeded" },
  );
}

/**
 * A session's refusal of an overflowing prompt, in the Responses API's terms: the field at fault
 * is `input`, and the way out is `truncation` or a shorter input, not the session's settings.
 */
async function inResponsesTerms(answer: Response, body: ResponseCreateBody): Promise<Response> {
  const text = await answer.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const parsed = OverflowSchema.safeParse(json);
  if (!parsed.success) {
    return new Response(text, { status: answer.status, headers: answer.headers });
  }
  const [why] = parsed.data.error.message.split(";");
  const advice = body.truncation === "auto"
    ? "shorten the input or lower max_output_tokens"
    : 'shorten the input, lower max_output_tokens, or begin the conversation with truncation: "auto" to let it be compacted';
  return errorResponse(400, `${why}; ${advice}`, {
    param: "input",
    code: "context_length_exceeded",
  });
}

const OverflowSchema = z.object({
  error: z.object({ message: z.string(), code: z.literal("context_length_exceeded") }),
});

/** The chat request parameters of `body`, less what the session turn sets itself. */
function chatParams(body: ResponseCreateBody): Record<string, unknown> {
  const { model: _m, messages: _ms, stream: _s, stream_options: _o, ...params } = chatRequest(
    body.model,
    [],
    body,
  );
  return { ...params };
}

/**
 * `sessions`, with every turn it begins sent to `model` (a conversation made with another model
 * answers each Response with the model that Response asks for).
 */
function onModel(sessions: SessionService, model: string): SessionService {
  return new Proxy(sessions, {
    get(target, key) {
      if (key === "begin") {
        return async (...args: Parameters<SessionService["begin"]>) => {
          const begun = await target.begin(...args);
          if (begun.ok) begun.plan.model = model;
          return begun;
        };
      }
      const value = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
