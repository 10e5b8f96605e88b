import OpenAI from "openai";
import { assert, assertEquals, assertGreater, assertRejects } from "./_assert.ts";
import { MODEL, TOOLS, withSim } from "./_testing.ts";

const FAST = { timeScale: 100, tokenizer: "approx" } as const;
const USER: OpenAI.ChatCompletionMessageParam[] = [{ role: "user", content: "Check the weather" }];

type FunctionCall = OpenAI.ChatCompletionMessageFunctionToolCall;
/** A chat body as sent, or vLLM's error body. */
type Body = OpenAI.ChatCompletion & { error: { type: string; message: string } };

function request(url: string, body: Record<string, unknown>): Promise<Response> {
  return fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    body: JSON.stringify({ model: MODEL, messages: USER, tools: TOOLS, ...body }),
  });
}

/** POSTs a chat body; returns the status and the JSON body. */
async function post(url: string, body: Record<string, unknown>) {
  const response = await request(url, body);
  return { status: response.status, json: await response.json() as Body };
}

/** The one choice of a body. */
function choiceOf(body: Body): OpenAI.ChatCompletion.Choice {
  return body.choices[0]!;
}

/** POSTs a streamed chat body; returns its chunks, [DONE] excepted. */
async function postStream(url: string, body: Record<string, unknown>) {
  const text = await (await request(url, { ...body, stream: true })).text();
  const events = text.split("\n\n").filter((e) => e.startsWith("data: ")).map((e) => e.slice(6));
  assertEquals(events.at(-1), "[DONE]");
  return events.slice(0, -1).map((e) => JSON.parse(e) as OpenAI.ChatCompletionChunk);
}

/** The function calls of a message. */
function functionCalls(message: OpenAI.ChatCompletionMessage): FunctionCall[] {
  return (message.tool_calls ?? []).filter((c): c is FunctionCall => c.type === "function");
}

/** The tool calls a stream's deltas add up to, as a client assembles them. */
function assemble(chunks: OpenAI.ChatCompletionChunk[]): FunctionCall[] {
  const calls: FunctionCall[] = [];
  for (const chunk of chunks) {
    for (const d of chunk.choices[0]?.delta.tool_calls ?? []) {
      const fn = d.function!;
      if (d.id) {
        calls[d.index] = {
          id: d.id,
          type: "function",
          function: { name: fn.name!, arguments: fn.arguments! },
        };
      } else calls[d.index]!.function.arguments += fn.arguments;
    }
  }
  return calls;
}

Deno.test("a required tool call answers with content null, tool_calls and finish_reason tool_calls", () =>
  withSim(FAST, async (sim, client) => {
    const reply = await client.chat.completions.create({
      model: MODEL,
      messages: USER,
      tools: TOOLS,
      tool_choice: "required",
      seed: 4,
    });
    const choice = reply.choices[0]!;
    assertEquals(choice.finish_reason, "tool_calls");
    assertEquals(choice.message.content, null);
    const calls = functionCalls(choice.message);
    assertGreater(calls.length, 0);
    for (const call of calls) {
      assert(call.type === "function" && /^chatcmpl-tool-[0-9a-f]{32}$/.test(call.id), call.id);
      const tool = TOOLS.find((t) => t.function.name === call.function.name)!;
      const args = JSON.parse(call.function.arguments);
      const required = tool.function.parameters!.required as string[];
      assertEquals(Object.keys(args), required);
    }
    // The calls' tokens were decoded by the engine: completion tokens cover their text.
    const text = calls.map((c) => c.function.name + c.function.arguments).join("");
    assertGreater(reply.usage!.completion_tokens, text.length / 4);
    assertEquals(sim.engine.metrics.generationTokens, reply.usage!.completion_tokens);
  }));

Deno.test("a stream sends the role, each call's header, argument pieces and finish tool_calls", () =>
  withSim(FAST, async (sim) => {
    for (const parallel of [true, false]) {
      const body = { tool_choice: "required", seed: 5, parallel_tool_calls: parallel };
      const whole = await post(sim.url, body);
      const chunks = await postStream(sim.url, {
        ...body,
        stream_options: { include_usage: true },
      });
      const deltas = chunks.map((c) => c.choices[0]?.delta);
      assertEquals(deltas[0], { role: "assistant", content: "" });
      const calls = functionCalls(choiceOf(whole.json).message);
      assertEquals(calls.length > 1, parallel);
      assertEquals(assemble(chunks), calls);
      const headers = deltas.filter((d) => d?.tool_calls?.[0]?.id !== undefined);
      assertEquals(
        headers.map((d) => d!.tool_calls),
        calls.map((c, index) => [{
          index,
          id: c.id,
          type: "function" as const,
          function: { name: c.function.name, arguments: "" },
        }]),
      );
      const pieces = deltas.filter((d) => d?.tool_calls && d.tool_calls[0]?.id === undefined);
      for (const d of pieces) {
        assertEquals(Object.keys(d!.tool_calls![0]!.function!), ["arguments"]);
      }
      assertGreater(pieces.length, calls.length * 2);
      const finish = chunks.filter((c) => c.choices[0]?.finish_reason);
      assertEquals(finish.map((c) => c.choices[0]!.finish_reason), ["tool_calls"]);
      assertEquals(chunks.at(-1)!.choices, []);
      assertEquals(chunks.at(-1)!.usage, whole.json.usage);
    }
  }));

Deno.test("tool_choice none and a text turn of auto answer in text; a named tool is called", () =>
  withSim(FAST, async (sim) => {
    const none = choiceOf(
      (await post(sim.url, { tool_choice: "none", seed: 1, max_tokens: 5 })).json,
    );
    assertEquals(none.finish_reason, "length");
    assertEquals(none.message.tool_calls, []);
    assertEquals(none.message.content!.split(" ").length, 5);
    const name = "read_file";
    const named = await post(sim.url, { tool_choice: { type: "function", function: { name } } });
    const namedCalls = functionCalls(choiceOf(named.json).message);
    assertEquals(namedCalls.map((c) => c.function.name), [name]);
    assertEquals(choiceOf(named.json).finish_reason, "tool_calls");
    let text = 0, called = 0;
    for (let seed = 0; seed < 20; seed++) {
      const auto = choiceOf((await post(sim.url, { seed, max_tokens: 400 })).json);
      if (auto.finish_reason === "tool_calls") called++;
      else if (auto.finish_reason === "length" && typeof auto.message.content === "string") text++;
    }
    assertEquals(text + called, 20);
    assert(text > 0 && called > 0, `${called} of 20 called`);
  }));

Deno.test("max_tokens shorter than the calls ends with length and the arguments cut short", () =>
  withSim(FAST, async (sim) => {
    const body = { tool_choice: "required", seed: 5, max_tokens: 11 };
    const whole = await post(sim.url, body);
    const choice = choiceOf(whole.json);
    assertEquals(choice.finish_reason, "length");
    assertEquals(choice.message.content, null);
    assertEquals(whole.json.usage!.completion_tokens, 11);
    const full = functionCalls(
      choiceOf((await post(sim.url, { ...body, max_tokens: null })).json).message,
    );
    const cut = functionCalls(choice.message);
    assertEquals(cut.length, 1);
    const fullArgs = full[0]!.function.arguments;
    const cutArgs = cut[0]!.function.arguments;
    assert(fullArgs.startsWith(cutArgs) && fullArgs !== cutArgs, cutArgs);
    const chunks = await postStream(sim.url, body);
    assertEquals(assemble(chunks), cut);
    assertEquals(chunks.at(-1)!.choices[0]!.finish_reason, "length");
  }));

Deno.test("a bad tool_choice gets vLLM's 400", () =>
  withSim(FAST, async (sim) => {
    const cases: [Record<string, unknown>, string][] = [
      [{ tool_choice: { type: "function", function: { name: "nope" } } }, "does not match"],
      [{ tools: undefined, tool_choice: "required" }, "`tools` must be set"],
      [
        { tools: undefined, tool_choice: { type: "function", function: { name: "a" } } },
        "must be set",
      ],
      [{ tool_choice: "sometimes" }, "tool_choice"],
      [{ tools: [{ type: "function", function: {} }] }, "tools"],
    ];
    for (const [body, message] of cases) {
      const { status, json } = await post(sim.url, body);
      assertEquals(status, 400, message);
      assertEquals(json.error.type, "BadRequestError");
      assert(json.error.message.includes(message), json.error.message);
    }
    const ok = await post(sim.url, { tools: undefined, tool_choice: "none", max_tokens: 1 });
    assertEquals(ok.status, 200);
  }));

/** Sends `messages` with the tools; the first turn of a loop is made to call, with a fixed seed. */
function agentTurn(client: OpenAI, messages: OpenAI.ChatCompletionMessageParam[], first: boolean) {
  return client.chat.completions.create({
    model: MODEL,
    messages,
    tools: TOOLS,
    max_tokens: 60,
    ...(first ? { tool_choice: "required" as const, seed: 1 } : {}),
  });
}

for (const mode of ["exact", "approx"] as const) {
  Deno.test(`an agent loop (${mode}) runs its tools until the model answers, hitting the cache`, () =>
    withSim({ timeScale: 100, tokenizer: mode }, async (_sim, client) => {
      // Pad the question so that the first turn's calls cross a 512-token block boundary: the
      // next turn then re-reads a block the calls' tokens filled. A token is " go" or 4 letters.
      const question = (pad: number): OpenAI.ChatCompletionMessageParam[] => [{
        role: "user",
        content: "Plan the trip." + (mode === "exact" ? " go" : "abcd").repeat(pad),
      }];
      const probe = (await agentTurn(client, question(0), true)).usage!;
      const crossing = probe.completion_tokens >> 1;
      const messages = question((1024 - crossing - probe.prompt_tokens % 512) % 512);
      let calls = 0, answers = 0, hits = 0, turns = 0;
      let last: OpenAI.CompletionUsage | undefined;
      for (let user = 0; user < 4; user++) {
        for (let round = 0;; round++) {
          assert(round < 7, "the model answers after at most six rounds of tools");
          const reply = await agentTurn(client, messages, turns++ === 0);
          const usage = reply.usage!;
          if (last) {
            // Every block the previous turn computed serves this one, its output's included.
            const blocks = Math.floor((last.prompt_tokens + last.completion_tokens - 1) / 512);
            assertEquals(usage.prompt_tokens_details!.cached_tokens, blocks * 512);
            if (blocks * 512 > last.prompt_tokens) hits++;
          }
          last = usage;
          const message = reply.choices[0]!.message;
          const called = functionCalls(message);
          if (called.length === 0) {
            answers++;
            messages.push({ role: "assistant", content: message.content });
            break;
          }
          calls += called.length;
          messages.push({ role: "assistant", content: null, tool_calls: called });
          for (const call of called) {
            messages.push({ role: "tool", tool_call_id: call.id, content: `result of ${call.id}` });
          }
        }
        messages.push({ role: "user", content: "And then?" });
      }
      assertEquals(answers, 4);
      assertGreater(calls, 1);
      assertGreater(hits, 0);
    }));
}

Deno.test("the openai client assembles a streamed tool call into the non-streamed one", () =>
  withSim(FAST, async (_sim, client) => {
    const params = {
      model: MODEL,
      messages: USER,
      tools: TOOLS,
      tool_choice: "required" as const,
      seed: 8,
    };
    const whole = await client.chat.completions.create(params);
    const stream = client.chat.completions.stream({ ...params, stream: true });
    const done: string[] = [];
    stream.on("tool_calls.function.arguments.done", (e) => done.push(e.arguments));
    const final = await stream.finalChatCompletion();
    const expected = functionCalls(whole.choices[0]!.message);
    assertEquals(final.choices[0]!.finish_reason, "tool_calls");
    const streamed = functionCalls(final.choices[0]!.message);
    assertEquals(streamed.map((c) => ({ id: c.id, type: c.type, function: c.function })), expected);
    assertEquals(done, expected.map((c) => c.function.arguments));
    const bad = await assertRejects(() =>
      client.chat.completions.create({
        ...params,
        tool_choice: { type: "function", function: { name: "x" } },
      })
    );
    assert(bad instanceof OpenAI.BadRequestError);
  }));
