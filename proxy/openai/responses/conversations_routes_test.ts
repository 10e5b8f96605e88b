import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import type OpenAI from "openai";
import { MODEL, startRig, type TestRig } from "../../../gateway/testing.ts";
import {
  apiError,
  errorBody,
  history,
  send,
  sessionIds,
  sessionOf,
  WEATHER_TOOL,
} from "./_testing.ts";

type Item = OpenAI.Conversations.ConversationItem;

async function withRig(body: (rig: TestRig) => Promise<void>): Promise<void> {
  const rig = await startRig();
  try {
    await body(rig);
  } finally {
    await rig.close();
  }
}

/** Every item of `conversation`, paged by the SDK `limit` at a time. */
async function allItems(
  client: OpenAI,
  conversation: string,
  order: "asc" | "desc",
  limit = 2,
): Promise<Item[]> {
  const items: Item[] = [];
  for await (const item of client.conversations.items.list(conversation, { order, limit })) {
    items.push(item);
  }
  return items;
}

/** An item's text, or its call id for a call or a call's output. */
function label(item: Item): string {
  if (item.type === "function_call" || item.type === "function_call_output") {
    return `${item.type}:${item.call_id}`;
  }
  assert(item.type === "message", item.type);
  return item.content.map((p) => "text" in p ? p.text : "").join("");
}

Deno.test("a conversation is created with items and metadata, retrieved, updated and deleted", async () => {
  await withRig(async ({ client }) => {
    const conversation = await client.conversations.create({
      metadata: { team: "search", run: "7" },
      items: [
        { type: "message", role: "system", content: "You are terse." },
        { type: "message", role: "user", content: "Hello" },
      ],
    });
    assert(/^conv_[0-9a-z]{24}$/.test(conversation.id), conversation.id);
    assertEquals(conversation.object, "conversation");
    assertEquals(conversation.metadata, { team: "search", run: "7" });
    assert(Math.abs(conversation.created_at - Date.now() / 1000) < 60);
    assertEquals(await client.conversations.retrieve(conversation.id), conversation);
    const items = await allItems(client, conversation.id, "asc");
    assertEquals(items.map(label), ["You are terse.", "Hello"]);
    assertEquals(items.map((i) => i.type === "message" && i.role), ["system", "user"]);

    const updated = await client.conversations.update(conversation.id, {
      metadata: { team: "ads" },
    });
    assertEquals(updated, { ...conversation, metadata: { team: "ads" } });
    assertEquals(await client.conversations.retrieve(conversation.id), updated);

    const empty = await client.conversations.create();
    assertEquals(empty.metadata, {});
    assertEquals((await client.conversations.items.list(empty.id)).data, []);

    assertEquals(await client.conversations.delete(conversation.id), {
      id: conversation.id,
      object: "conversation.deleted",
      deleted: true,
    });
    await apiError(client.conversations.retrieve(conversation.id), 404, "conversation_not_found");
    await apiError(client.conversations.items.list(conversation.id), 404, "conversation_not_found");
    await apiError(client.conversations.delete(conversation.id), 404, "conversation_not_found");
    await apiError(
      client.conversations.update(conversation.id, { metadata: {} }),
      404,
      "conversation_not_found",
    );
  });
});

Deno.test("items are added, listed in pages in both orders, retrieved and deleted", async () => {
  await withRig(async ({ client }) => {
    const conversation = await client.conversations.create({
      items: [
        { type: "message", role: "user", content: "one" },
        { type: "message", role: "assistant", content: "two" },
      ],
    });
    const added = await client.conversations.items.create(conversation.id, {
      items: [
        { type: "message", role: "user", content: "three" },
        { type: "function_call", call_id: "call_a", name: "get_weather", arguments: "{}" },
        { type: "function_call_output", call_id: "call_a", output: "sunny" },
        { type: "message", role: "user", content: [{ type: "input_text", text: "six" }] },
      ],
    });
    assertEquals(added.data.map(label), [
      "three",
      "function_call:call_a",
      "function_call_output:call_a",
      "six",
    ]);
    assertEquals(added.first_id, (added.data[0] as { id: string }).id);
    assertEquals(added.last_id, (added.data[3] as { id: string }).id);
    assertEquals(added.has_more, false);

    const asc = await allItems(client, conversation.id, "asc");
    assertEquals(asc.map(label), [
      "one",
      "two",
      "three",
      "function_call:call_a",
      "function_call_output:call_a",
      "six",
    ]);
    assertEquals(asc.slice(2), added.data);
    assertEquals(await allItems(client, conversation.id, "desc", 4), [...asc].reverse());
    // The default is newest first, 20 a page.
    const page = await client.conversations.items.list(conversation.id);
    assertEquals(page.data, [...asc].reverse());
    assertEquals(page.has_more, false);
    const firstPage = await client.conversations.items.list(conversation.id, {
      order: "asc",
      limit: 4,
    });
    assertEquals(firstPage.data, asc.slice(0, 4));
    assertEquals(firstPage.has_more, true);
    // Ids are unique and stable.
    const ids = asc.map((i) => (i as { id: string }).id);
    assertEquals(new Set(ids).size, ids.length);

    const two = asc[1]!;
    const twoId = (two as { id: string }).id;
    assertEquals(
      await client.conversations.items.retrieve(twoId, { conversation_id: conversation.id }),
      two,
    );
    const after = await client.conversations.items.delete(twoId, {
      conversation_id: conversation.id,
    });
    assertEquals(after, await client.conversations.retrieve(conversation.id));
    await apiError(
      client.conversations.items.retrieve(twoId, { conversation_id: conversation.id }),
      404,
      "item_not_found",
    );
    await apiError(
      client.conversations.items.delete(twoId, { conversation_id: conversation.id }),
      404,
      "item_not_found",
    );
    const left = await allItems(client, conversation.id, "asc");
    assertEquals(left, [asc[0], ...asc.slice(2)]);
    // An item of one conversation is not found in another.
    const other = await client.conversations.create();
    await apiError(
      client.conversations.items.retrieve(ids[0]!, { conversation_id: other.id }),
      404,
      "item_not_found",
    );
  });
});

Deno.test("deleting an item leaves it out of later prompts", async () => {
  await withRig(async ({ client }) => {
    const conversation = await client.conversations.create({
      items: [
        { type: "message", role: "user", content: "background ".repeat(200) },
        { type: "message", role: "user", content: "Short question" },
      ],
    });
    const ask = () =>
      client.responses.create({
        model: MODEL,
        conversation: conversation.id,
        input: "Answer now",
        max_output_tokens: 3,
      });
    const before = await ask();
    const [long] = await allItems(client, conversation.id, "asc");
    await client.conversations.items.delete((long as { id: string }).id, {
      conversation_id: conversation.id,
    });
    const after = await ask();
    // The second prompt is the first less the long item, plus the first answer and question.
    assert(
      after.usage!.input_tokens + 150 < before.usage!.input_tokens,
      `${after.usage!.input_tokens} vs ${before.usage!.input_tokens}`,
    );
  });
});

Deno.test("deleting one function_call of a reply keeps its other items, their ids and the Response", async () => {
  await withRig(async ({ client, gateway }) => {
    const conversation = await client.conversations.create();
    const reply = await client.responses.create({
      model: MODEL,
      conversation: conversation.id,
      input: "Weather in Paris, Oslo and Rome?",
      tools: [WEATHER_TOOL],
      tool_choice: "required",
    });
    const calls = reply.output.filter((o) => o.type === "function_call");
    assert(calls.length >= 2, `${calls.length} calls`);
    const [gone, ...kept] = calls;
    const items = await allItems(client, conversation.id, "asc");
    const deleted = await client.conversations.items.delete(gone!.id!, {
      conversation_id: conversation.id,
    });
    assertEquals(deleted.id, conversation.id);
    const left = await allItems(client, conversation.id, "asc");
    assertEquals(left, items.filter((i) => (i as { id: string }).id !== gone!.id));
    await apiError(
      client.conversations.items.retrieve(gone!.id!, { conversation_id: conversation.id }),
      404,
      "item_not_found",
    );
    // The Response is kept as it was answered.
    assertEquals(
      (await client.responses.retrieve(reply.id)).output,
      reply.output,
    );
    // The deleted call waits for no result: answering the others is enough.
    const answered = await client.responses.create({
      model: MODEL,
      conversation: conversation.id,
      input: kept.map((c) => ({
        type: "function_call_output",
        call_id: c.call_id,
        output: "sunny",
      })),
      tools: [WEATHER_TOOL],
      tool_choice: "none",
      max_output_tokens: 3,
    });
    assertEquals(answered.status, "incomplete");
    const [, second] = await history(gateway.url, conversation.id);
    const assistant = second!.sent.prompt.find((m) => m.role === "assistant") as {
      tool_calls: { id: string }[];
    };
    assertEquals(assistant.tool_calls.map((c) => c.id), kept.map((c) => c.call_id));
    // Deleting the rest of the reply's calls removes the message altogether.
    const full = await allItems(client, conversation.id, "asc");
    for (const call of kept) {
      await client.conversations.items.delete(call.id!, { conversation_id: conversation.id });
    }
    const rest = await allItems(client, conversation.id, "asc");
    assertEquals(rest.filter((i) => i.type === "function_call"), []);
    assertEquals(rest, full.filter((i) => i.type !== "function_call"));
  });
});

Deno.test("a response with conversation appends its input and output to it", async () => {
  await withRig(async ({ client, gateway }) => {
    const conversation = await client.conversations.create({
      items: [{ type: "message", role: "user", content: "My name is Ada." }],
    });
    const reply = await client.responses.create({
      model: MODEL,
      conversation: conversation.id,
      input: "What is my name?",
      max_output_tokens: 5,
    });
    assertEquals(reply.conversation, { id: conversation.id });
    assertEquals(sessionOf(reply.id), conversation.id);
    const items = await allItems(client, conversation.id, "asc");
    assertEquals(items.map(label), ["My name is Ada.", "What is my name?", reply.output_text]);
    assertEquals(items[2], reply.output[0]);
    // The model was sent the conversation's earlier items.
    const turns = await history(gateway.url, conversation.id);
    assertEquals(turns.at(-1)!.sent.prompt.map((m) => m.content), [
      "My name is Ada.",
      "What is my name?",
    ]);
    // The `{id}` spelling works too, and tool calls land in the conversation as items.
    const called = await client.responses.create({
      model: MODEL,
      conversation: { id: conversation.id },
      input: "Weather?",
      tools: [WEATHER_TOOL],
      tool_choice: "required",
      parallel_tool_calls: false,
    });
    const call = called.output[0]!;
    assert(call.type === "function_call");
    const answered = await client.responses.create({
      model: MODEL,
      conversation: conversation.id,
      input: [{ type: "function_call_output", call_id: call.call_id, output: "sunny" }],
      tools: [WEATHER_TOOL],
      tool_choice: "none",
      max_output_tokens: 5,
    });
    const all = await allItems(client, conversation.id, "asc");
    assertEquals(all.slice(3).map(label), [
      "Weather?",
      `function_call:${call.call_id}`,
      `function_call_output:${call.call_id}`,
      answered.output_text,
    ]);
    assertEquals(all[4], call);
    // A Response's input_items are that turn's items as the conversation lists them.
    const input = await client.responses.inputItems.list(answered.id);
    assertEquals(input.data, [all[5]]);
  });
});

Deno.test("unknown and malformed conversation and item ids are OpenAI-shaped 404s", async () => {
  await withRig(async ({ client, gateway }) => {
    const conversation = await client.conversations.create({
      items: [{ type: "message", role: "user", content: "Hi" }],
    });
    const url = `${gateway.url}/v1/conversations`;
    const ids = ["conv_nope", "conv..", "x".repeat(5_000), "%F0%9F%98%80", "a%2Fb", "conv_%00"];
    for (const id of ids) {
      for (
        const [method, path, body] of [
          ["GET", "", undefined],
          ["POST", "", { metadata: {} }],
          ["DELETE", "", undefined],
          ["GET", "/items", undefined],
          ["POST", "/items", { items: [{ role: "user", content: "x" }] }],
          ["GET", "/items/msg_1", undefined],
          ["DELETE", "/items/msg_1", undefined],
        ] as const
      ) {
        const response = await send(`${url}/${id}${path}`, method, body);
        await errorBody(response, 404, "conversation_not_found");
      }
    }
    for (const item of ["msg_nope", "x".repeat(5_000), "%F0%9F%98%80"]) {
      for (const method of ["GET", "DELETE"]) {
        const response = await send(`${url}/${conversation.id}/items/${item}`, method);
        await errorBody(response, 404, "item_not_found");
      }
    }
    const after = await errorBody(
      await send(`${url}/${conversation.id}/items?after=msg_nope`, "GET"),
      404,
      "item_not_found",
    );
    assertEquals(after.param, "after");
    const missing = await apiError(
      client.responses.create({ model: MODEL, input: "Hi", conversation: "conv_nope" }),
      404,
      "conversation_not_found",
    );
    assertEquals(missing.param, "conversation");
  });
});

Deno.test("bad conversation bodies and queries are OpenAI-shaped 400s, and leave nothing behind", async () => {
  await withRig(async ({ client, gateway }) => {
    const conversation = await client.conversations.create();
    const url = `${gateway.url}/v1/conversations`;
    const tooMany = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, "v"]));
    const items = (n: number) => Array.from({ length: n }, () => ({ role: "user", content: "x" }));
    const listed = () => sessionIds(gateway.url);
    const sessions = await listed();
    const bad: [string, string, unknown, string][] = [
      ["POST", url, "{not json", "invalid_json"],
      ["POST", url, [], "invalid_request"],
      ["POST", url, { metadata: 5 }, "invalid_request"],
      ["POST", url, { metadata: tooMany }, "invalid_request"],
      ["POST", url, { metadata: { k: "v".repeat(513) } }, "invalid_request"],
      ["POST", url, { items: items(21) }, "invalid_request"],
      ["POST", url, { items: [{ type: "reasoning" }] }, "invalid_request"],
      ["POST", url, { items: [{ role: "user" }] }, "invalid_request"],
      [
        "POST",
        url,
        { items: [{ type: "function_call_output", call_id: "c", output: "x" }] },
        "invalid_tool_pairing",
      ],
      ["POST", `${url}/${conversation.id}`, {}, "invalid_request"],
      ["POST", `${url}/${conversation.id}`, "{not json", "invalid_json"],
      ["POST", `${url}/${conversation.id}`, { metadata: tooMany }, "invalid_request"],
      ["POST", `${url}/${conversation.id}/items`, {}, "invalid_request"],
      ["POST", `${url}/${conversation.id}/items`, { items: [] }, "invalid_request"],
      ["POST", `${url}/${conversation.id}/items`, { items: items(21) }, "invalid_request"],
      ["POST", `${url}/${conversation.id}/items`, "{not json", "invalid_json"],
      [
        "POST",
        `${url}/${conversation.id}/items`,
        { items: [{ type: "function_call_output", call_id: "c", output: "x" }] },
        "invalid_tool_pairing",
      ],
      ["GET", `${url}/${conversation.id}/items?limit=0`, undefined, "invalid_request"],
      ["GET", `${url}/${conversation.id}/items?limit=101`, undefined, "invalid_request"],
      ["GET", `${url}/${conversation.id}/items?limit=ten`, undefined, "invalid_request"],
      ["GET", `${url}/${conversation.id}/items?order=up`, undefined, "invalid_request"],
    ];
    for (const [method, target, body, code] of bad) {
      await errorBody(await send(target, method, body), 400, code);
    }
    assertEquals(await listed(), sessions);
    assertEquals((await client.conversations.items.list(conversation.id)).data, []);
    assertEquals((await client.conversations.retrieve(conversation.id)).metadata, {});
  });
});
