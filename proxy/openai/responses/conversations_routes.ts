/** `/v1/conversations` on durable sessions: a conversation is a session, its items are its turns' messages. */
import { Hono } from "hono";
import {
  currentOwner,
  deleteMessage,
  deleteMessagePart,
  type MessagePart,
  type SessionService,
  updateMetadata,
} from "../../../actors/session/mod.ts";
import { errorResponse } from "../../errors.ts";
import { allowsModel, principalOf } from "../../auth/principal.ts";
import { parseJsonBody, parseValue } from "../../json_body.ts";
import {
  conversationView,
  notFound,
  refused,
  requestIdOf,
  type ResponsesRouteServices,
  tooLarge,
} from "./_http.ts";
import { itemList } from "./from_chat.ts";
import { newConversationId } from "./ids.ts";
import {
  ConversationCreateBodySchema,
  ConversationItemsBodySchema,
  ConversationUpdateBodySchema,
  type InputItem,
} from "./schemas.ts";
import { itemsToMessages } from "./to_chat.ts";
import { itemPage, ItemPageQuerySchema, type TurnItem, turnItems } from "./turn_items.ts";

/** The `/v1/conversations` routes. */
export function conversationRoutes(services: ResponsesRouteServices): Hono {
  const { sessions } = services;
  const app = new Hono();
  const missing = (id: string) => ({ what: "Conversation", id });

  app.post("/v1/conversations", async (c) => {
    const body = await parseJsonBody(c.req.raw, ConversationCreateBodySchema, {
      emptyIsObject: true,
    });
    if (!body.ok) return body.response;
    const served = services.models();
    // A conversation holds the first served model its caller may call.
    const model = served.find((m) => allowsModel(principalOf(c.req.raw), m));
    if (model === undefined && served.length > 0) {
      return errorResponse(
        403,
        "This key may call none of the served models; ask for one that may",
        {
          code: "model_not_allowed",
        },
      );
    }
    if (model === undefined) {
      return errorResponse(
        503,
        "The gateway serves no model to hold conversations; configure one",
        {
          code: "no_model",
        },
      );
    }
    const names = services.forward.headers;
    const created = await sessions.create({
      id: newConversationId(),
      model,
      metadata: body.value.metadata ?? {},
      source: "conversation",
      task_id: c.req.header(names.task) ?? null,
      client_id: currentOwner() ?? c.req.header(names.client) ?? null,
    });
    if (!created.ok) return refused(created.refusal);
    const head = created.head;
    const items = body.value.items ?? [];
    if (items.length > 0) {
      const added = await append(sessions, head.id, items, requestIdOf(c.req.raw));
      if (added instanceof Response) {
        await sessions.delete(head.id);
        return added;
      }
    }
    return c.json(conversationView(head));
  });

  app.get("/v1/conversations/:id", async (c) => {
    const found = await sessions.get(c.req.param("id"));
    if (!found.ok) return refused(found.refusal, missing(c.req.param("id")));
    return c.json(conversationView(found.found.head));
  });

  app.post("/v1/conversations/:id", async (c) => {
    const id = c.req.param("id");
    const body = await parseJsonBody(c.req.raw, ConversationUpdateBodySchema);
    if (!body.ok) return body.response;
    const updated = await updateMetadata(sessions, id, body.value.metadata ?? {});
    if (!updated.ok) return refused(updated.refusal, missing(id));
    return c.json(conversationView(updated.value));
  });

  app.delete("/v1/conversations/:id", async (c) => {
    const id = c.req.param("id");
    const deleted = await sessions.delete(id);
    if (!deleted.ok) return refused(deleted.refusal, missing(id));
    return c.json({ id, object: "conversation.deleted", deleted: true });
  });

  app.get("/v1/conversations/:id/items", async (c) => {
    const id = c.req.param("id");
    const query = parseValue(c.req.query(), ItemPageQuerySchema);
    if (!query.ok) return query.response;
    const items = await allItems(sessions, id);
    if (items instanceof Response) return items;
    const page = itemPage(items, query.value);
    if (!page) return notFound({ what: "Item", id: query.value.after ?? "", param: "after" });
    return c.json(itemList(page.items.map((t) => t.item), page.hasMore));
  });

  app.post("/v1/conversations/:id/items", async (c) => {
    const id = c.req.param("id");
    const body = await parseJsonBody(c.req.raw, ConversationItemsBodySchema);
    if (!body.ok) return body.response;
    const added = await append(sessions, id, body.value.items, requestIdOf(c.req.raw));
    if (added instanceof Response) return added;
    return c.json(itemList(added.map((t) => t.item)));
  });

  app.get("/v1/conversations/:id/items/:item", async (c) => {
    const found = await findItem(sessions, c.req.param("id"), c.req.param("item"));
    if (found instanceof Response) return found;
    return c.json(found.item);
  });

  app.delete("/v1/conversations/:id/items/:item", async (c) => {
    const id = c.req.param("id");
    const items = await allItems(sessions, id);
    if (items instanceof Response) return items;
    const found = items.find((t) => "id" in t.item && t.item.id === c.req.param("item"));
    if (!found) return notFound({ what: "Item", id: c.req.param("item") });
    // An assistant message shows its text and each tool call as items of their own.
    const siblings = items.filter((t) => t.turn === found.turn && t.message === found.message);
    const deleted = siblings.length > 1
      ? await deleteMessagePart(sessions, id, found.turn, found.message, partOf(found.item))
      : await deleteMessage(sessions, id, found.turn, found.message);
    if (!deleted.ok) return refused(deleted.refusal, { what: "Item", id: c.req.param("item") });
    const head = await sessions.get(id);
    if (!head.ok) return refused(head.refusal, missing(id));
    return c.json(conversationView(head.found.head));
  });

  return app;
}

/** Appends `items` as one turn without a model call; the items as listed, or the error. */
async function append(
  sessions: SessionService,
  id: string,
  items: InputItem[],
  requestId: string,
): Promise<TurnItem[] | Response> {
  const large = tooLarge(items, "items");
  if (large) return large;
  const result = await sessions.append(id, {
    messages: itemsToMessages(items),
    source: "conversation",
    requestId,
    extra: { api: "conversation" },
  });
  if (!result.ok) {
    if ("refusal" in result) return refused(result.refusal, { what: "Conversation", id });
    return errorResponse(503, `The items were not saved (${result.message}); send them again`, {
      code: "turn_not_saved",
    });
  }
  return turnItems(id, result.record);
}

/** Every item of conversation `id`, oldest first. */
async function allItems(sessions: SessionService, id: string): Promise<TurnItem[] | Response> {
  const found = await sessions.get(id);
  if (!found.ok) return refused(found.refusal, { what: "Conversation", id });
  const turns = await sessions.store.turns(id, 1);
  return turns.flatMap((t) => turnItems(id, t));
}

/** The part of its assistant message an item shows. */
function partOf(item: TurnItem["item"]): MessagePart {
  return item.type === "function_call" ? { toolCallId: item.call_id } : { text: true };
}

async function findItem(
  sessions: SessionService,
  id: string,
  itemId: string,
): Promise<TurnItem | Response> {
  const items = await allItems(sessions, id);
  if (items instanceof Response) return items;
  const found = items.find((t) => "id" in t.item && t.item.id === itemId);
  return found ?? notFound({ what: "Item", id: itemId });
}
