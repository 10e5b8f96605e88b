/** TurnpikeConversations: turnpike's sessions through OpenAI's `/v1/conversations` shapes. */
import type OpenAI from "openai";
import { type GatewayClientOptions, GatewayHttp } from "./http.ts";

/** An item a conversation takes: a message, a function call, or a function call's output. */
export type ConversationInputItem =
  | OpenAI.Responses.EasyInputMessage
  | OpenAI.Responses.ResponseFunctionToolCall
  | OpenAI.Responses.ResponseInputItem.FunctionCallOutput;

/** The body of `POST /v1/conversations`. */
export interface ConversationCreateParams {
  /** Up to 20 items to start with. */
  items?: ConversationInputItem[];
  /** Up to 16 string pairs. */
  metadata?: Record<string, string>;
}

/** The paging of `GET /v1/conversations/:id/items`. */
export interface ConversationItemsQuery {
  /** Items per page, 1 to 100. @default 20 */
  limit?: number;
  /** Newest first (`desc`) or oldest first (`asc`). @default "desc" */
  order?: "asc" | "desc";
  /** The id of the item the page starts after. */
  after?: string;
}

/** A client of `/v1/conversations`: each conversation is a turnpike session. */
export class TurnpikeConversations {
  readonly #http: GatewayHttp;

  /** @param options where the gateway is and what every call sends */
  constructor(options: GatewayClientOptions = {}) {
    this.#http = new GatewayHttp(options);
  }

  /** Creates a conversation on the gateway's first model, with its first items if given. */
  create(params: ConversationCreateParams = {}): Promise<OpenAI.Conversations.Conversation> {
    return this.#http.json("/v1/conversations", { method: "POST", body: params });
  }

  /** The conversation `id`. */
  get(id: string): Promise<OpenAI.Conversations.Conversation> {
    return this.#http.json(path(id));
  }

  /** Deletes the conversation `id` and its items. */
  delete(id: string): Promise<OpenAI.Conversations.ConversationDeletedResource> {
    return this.#http.json(path(id), { method: "DELETE" });
  }

  /** Appends up to 20 items to the conversation `id`, without a model call; answers them as kept. */
  addItems(
    id: string,
    items: ConversationInputItem[],
  ): Promise<OpenAI.Conversations.ConversationItemList> {
    return this.#http.json(`${path(id)}/items`, { method: "POST", body: { items } });
  }

  /** One page of the items of conversation `id`. */
  itemsPage(
    id: string,
    query: ConversationItemsQuery = {},
  ): Promise<OpenAI.Conversations.ConversationItemList> {
    return this.#http.json(`${path(id)}/items`, { query: { ...query } });
  }

  /** Every item of conversation `id` in `query.order`, fetched a page at a time as the iteration goes. */
  async *items(
    id: string,
    query: Omit<ConversationItemsQuery, "after"> = {},
  ): AsyncGenerator<OpenAI.Conversations.ConversationItem> {
    let after: string | undefined;
    for (;;) {
      const page = await this.itemsPage(id, after === undefined ? query : { ...query, after });
      yield* page.data;
      if (!page.has_more || page.last_id === null) return;
      after = page.last_id;
    }
  }
}

function path(id: string): string {
  return `/v1/conversations/${encodeURIComponent(id)}`;
}
