import { assert, assertEquals, assertGreater } from "./_assert.ts";
import { renderChat, renderToolCalls } from "./chat_template.ts";
import { type ChatRequest, ChatRequestSchema } from "./schemas.ts";
import { approxTokenizer, createTokenizer } from "./tokens.ts";
import { TOOLS } from "./_testing.ts";
import {
  argumentsFor,
  MAX_PARALLEL_CALLS,
  planToolCalls,
  toolCallId,
  ToolCallOutput,
} from "./tools.ts";

function request(fields: Record<string, unknown>): ChatRequest {
  return ChatRequestSchema.parse({
    model: "m",
    messages: [{ role: "user", content: "Go" }],
    tools: TOOLS,
    ...fields,
  });
}

/** How many of seeds 0..n-1 make `body` call tools. */
function callingSeeds(body: ChatRequest, n: number): number {
  let calls = 0;
  for (let seed = 0; seed < n; seed++) if (planToolCalls(body, seed).length > 0) calls++;
  return calls;
}

Deno.test("tool_choice none never calls, required always does, a named tool is called once", () => {
  assertEquals(callingSeeds(request({ tool_choice: "none" }), 100), 0);
  assertEquals(callingSeeds(request({ tool_choice: "required" }), 100), 100);
  assertEquals(callingSeeds(request({ tools: [] }), 100), 0);
  const named = request({ tool_choice: { type: "function", function: { name: "get_weather" } } });
  for (let seed = 0; seed < 100; seed++) {
    const calls = planToolCalls(named, seed);
    assertEquals(calls.map((c) => c.function.name), ["get_weather"]);
  }
});

Deno.test("auto calls after a user message about 60% of the time and seldom after tool results", () => {
  const afterUser = callingSeeds(request({}), 1000);
  assert(afterUser > 550 && afterUser < 650, `${afterUser} of 1000`);
  const call = { id: "c1", type: "function", function: { name: "read_file", arguments: "{}" } };
  const round = [{ role: "assistant", content: null, tool_calls: [call] }, {
    role: "tool",
    tool_call_id: "c1",
    content: "ok",
  }];
  const messages = [{ role: "user", content: "Go" }, ...round];
  const afterTool = callingSeeds(request({ messages }), 1000);
  assert(afterTool > 250 && afterTool < 350, `${afterTool} of 1000`);
  const sixRounds = [{ role: "user", content: "Go" }, ...Array(6).fill(round).flat()];
  assertEquals(callingSeeds(request({ messages: sixRounds }), 1000), 0);
  const afterAssistant = [{ role: "user", content: "Go" }, { role: "assistant", content: "Hi" }];
  assertEquals(callingSeeds(request({ messages: afterAssistant }), 100), 0);
});

Deno.test("parallel_tool_calls allows 1 to 3 calls, and false exactly one", () => {
  const counts = new Set<number>();
  const parallel = request({ tool_choice: "required" });
  const single = request({ tool_choice: "required", parallel_tool_calls: false });
  for (let seed = 0; seed < 200; seed++) {
    counts.add(planToolCalls(parallel, seed).length);
    assertEquals(planToolCalls(single, seed).length, 1);
  }
  assertEquals([...counts].sort(), Array.from({ length: MAX_PARALLEL_CALLS }, (_, i) => i + 1));
});

Deno.test("the calls are the same for the same seed and messages, and differ between seeds", () => {
  const body = request({ tool_choice: "required" });
  assertEquals(planToolCalls(body, 42), planToolCalls(body, 42));
  assert(JSON.stringify(planToolCalls(body, 42)) !== JSON.stringify(planToolCalls(body, 43)));
  const ids = new Set<string>();
  for (let seed = 0; seed < 50; seed++) {
    for (const call of planToolCalls(body, seed)) {
      assert(/^chatcmpl-tool-[0-9a-f]{32}$/.test(call.id), call.id);
      ids.add(call.id);
    }
  }
  assertGreater(ids.size, 50);
  assertEquals(toolCallId(7), toolCallId(7));
});

Deno.test("arguments are JSON with every required property, of its type", () => {
  const parameters = {
    type: "object",
    properties: {
      s: { type: "string", minLength: 8 },
      n: { type: "number", minimum: 20, maximum: 30 },
      i: { type: "integer", maximum: 0 },
      b: { type: "boolean" },
      e: { enum: ["first", "second"] },
      a: { type: "array", items: { type: "integer" } },
      o: { type: "object", properties: { x: { type: ["string", "null"] } }, required: ["x"] },
      u: { anyOf: [{ type: "null" }, { type: "boolean" }] },
      optional: { type: "string" },
    },
    required: ["s", "n", "i", "b", "e", "a", "o", "u"],
  };
  for (let seed = 0; seed < 20; seed++) {
    const args = JSON.parse(JSON.stringify(argumentsFor(parameters, seed)));
    assertEquals(Object.keys(args), ["s", "n", "i", "b", "e", "a", "o", "u"]);
    assert(typeof args.s === "string" && args.s.length >= 8);
    assert(typeof args.n === "number" && args.n >= 20 && args.n <= 30);
    assert(Number.isInteger(args.i) && args.i <= 0);
    assertEquals(typeof args.b, "boolean");
    assertEquals(args.e, "first");
    assert(args.a.length === 1 && Number.isInteger(args.a[0]));
    assertEquals(typeof args.o.x, "string");
    assertEquals(typeof args.u, "boolean");
  }
  assertEquals(argumentsFor(undefined, 1), {});
  const call = planToolCalls(request({ tool_choice: "required" }), 3)[0]!;
  assert(typeof JSON.parse(call.function.arguments) === "object");
});

Deno.test("a ToolCallOutput's pieces write the rendered calls and its deltas rebuild them", () => {
  const calls = planToolCalls(request({ tool_choice: "required" }), 5);
  assertGreater(calls.length, 1);
  const output = new ToolCallOutput(calls, approxTokenizer.pieces);
  assertEquals(output.pieces.join(""), renderToolCalls(calls.map((c) => c.function)));
  const rebuilt: { id: string; name: string; arguments: string }[] = [];
  for (let i = 0; i < output.pieces.length; i++) {
    for (const delta of output.deltas(i)) {
      const [d] = delta.tool_calls as {
        index: number;
        id?: string;
        function: { name?: string; arguments: string };
      }[];
      if (d!.id) rebuilt[d!.index] = { id: d!.id, name: d!.function.name!, arguments: "" };
      rebuilt[d!.index]!.arguments += d!.function.arguments;
    }
  }
  assertEquals(rebuilt, calls.map((c) => ({ id: c.id, ...c.function })));
  assertEquals(output.callsAt(output.pieces.length), calls);
  assertEquals(output.callsAt(1), []);
  const cut = output.callsAt(12);
  assertEquals(cut.length, 1);
  assert(calls[0]!.function.arguments.startsWith(cut[0]!.function.arguments));
});

for (const mode of ["exact", "approx"] as const) {
  Deno.test(`a tool call's generated blocks (${mode}) hash as the next turn's prompt has them`, async () => {
    const tokenizer = await createTokenizer(mode);
    const body = request({ tool_choice: "required" });
    const calls = planToolCalls(body, 9);
    const output = new ToolCallOutput(calls, (text) => tokenizer.pieces(text));
    // Pad the question until the calls' tokens cross a 512-token block boundary.
    const turnsWith = (n: number) => [{ role: "user", content: "Go" + " on".repeat(n) }];
    let pad = 0;
    let prompt = tokenizer.tokenize(renderChat(turnsWith(pad), { tools: TOOLS }));
    while (prompt.tokens % 512 < 512 - output.pieces.length / 2) {
      prompt = tokenizer.tokenize(renderChat(turnsWith(++pad), { tools: TOOLS }));
    }
    const next = tokenizer.tokenize(renderChat([
      ...turnsWith(pad),
      { role: "assistant", content: "", toolCalls: calls.map((c) => c.function) },
      { role: "tool", content: "done" },
    ], { tools: TOOLS }));
    const sequence = prompt.withOutput(output.pieces);
    assertGreater(sequence.length, prompt.blockHashes.length);
    assertEquals(next.blockHashes.slice(0, sequence.length), sequence);
  });
}
