import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { COMPRESSION_METHODS, type CompressionMethod } from "../../actors/session/mod.ts";
import { startRig, waitFor } from "../../gateway/testing.ts";
import { createTokenizer } from "../../sim/tokens.ts";
import {
  assertToolPairs,
  call,
  type CompactionView,
  createSession,
  fullHistory,
  getSession,
  type Message,
  simPromptTokens,
  toolResults,
  TOOLS,
} from "./_testing.ts";

const BUDGET = 2000;
const TURNS = 24;
const SYSTEM = "You are a coding agent working in a TypeScript repository. Be brief.";
const exact = await createTokenizer("exact");

/** A tool's output: a listing of a few hundred tokens, different for every call. */
function observation(turn: number, call: number, name: string, length = 6): string {
  const lines = [`$ ${name} # turn ${turn}, call ${call}`];
  for (let k = 0; k < length; k++) {
    lines.push(`src/module_${turn}_${call}.ts:${k + 1}: export const value${k} = compute(${k});`);
  }
  return lines.join("\n");
}

/** Options of {@linkcode compressedLoop}. */
interface LoopOptions {
  /** @default 1 */
  keepRecentTurns?: number;
  /** Lines of each tool output. @default 6 */
  observationLines?: number;
  /** `sessions:` config of the gateway. */
  sessions?: Record<string, unknown>;
  /** A pause after each turn in which the session's actor passivates. */
  passivate?: boolean;
}

/**
 * Runs an agent loop with long tool outputs on a session compressed by `method` in a small
 * budget, then checks every turn and compaction the history shows; the compactions.
 */
async function compressedLoop(
  method: CompressionMethod,
  options: LoopOptions = {},
): Promise<CompactionView[]> {
  // The exact tokenizer: the replica counts prompts as the gateway does, so its usage is a check.
  const rig = await startRig({
    replicas: 1,
    sim: { tokenizer: "exact" },
    ...(options.sessions ? { sessions: options.sessions } : {}),
  });
  try {
    const id = await createSession(rig, {
      system: SYSTEM,
      compression: {
        method,
        budget_tokens: BUDGET,
        keep_recent_turns: options.keepRecentTurns ?? 1,
      },
    });
    const inputs: Message[][] = [];
    const replies: Message[] = [];
    let last: Message | undefined;
    for (let n = 1; n <= TURNS; n++) {
      const messages = last?.tool_calls?.length
        ? toolResults(last, (name, i) => observation(n, i, name, options.observationLines))
        : [{ role: "user", content: `Step ${n}: inspect the next module and fix what fails.` }];
      const res = await call(rig, "POST", `/v1/sessions/${id}/chat`, {
        messages,
        tools: TOOLS,
        // Tools every turn but each fourth, so the loop goes on through tool results.
        tool_choice: n % 4 === 0 ? "none" : "required",
        max_tokens: 64,
      });
      const body = await res.json();
      assertEquals(res.status, 200, `turn ${n}: ${JSON.stringify(body)}`);
      inputs.push(messages);
      last = body.choices[0].message as Message;
      replies.push(last);
      if (options.passivate) {
        await waitFor(
          "the session's actor to passivate",
          () => rig.gateway.sessions.liveActors === 0,
        );
      }
    }

    const { turns, compactions } = await fullHistory(rig, id, 5);
    assert(compactions.length >= 3, `${compactions.length} compactions`);
    assertEquals(compactions.map((c) => c.compaction), compactions.map((_, i) => i + 1));
    for (const c of compactions) {
      assertEquals(c.method, method);
      assert(c.tokens_after < c.tokens_before, JSON.stringify(c));
      assert(c.actions.length > 0, JSON.stringify(c));
    }
    const head = await getSession(rig, id);
    assertEquals(head.usage.compactions, compactions.length);

    // The originals are all kept, unchanged, whatever the prompts sent.
    assertEquals(turns.map((t) => t.turn), inputs.map((_, i) => i + 1));
    for (const [i, t] of turns.entries()) {
      assertEquals(t.input, inputs[i], `turn ${t.turn} keeps its input`);
      assertEquals(t.output[0]?.tool_calls, replies[i]!.tool_calls ?? undefined);
    }

    for (const [i, t] of turns.entries()) {
      const where = `${method}, turn ${t.turn}`;
      const prompt = t.sent.prompt!;
      // Each turn names the compaction its prompt started from; the history lists it.
      const k = t.sent.compaction;
      const made = compactions.find((c) => c.compaction === k);
      assert(k === 0 || made !== undefined, where);
      if (made?.before_turn === t.turn) assertEquals(t.sent.base_turn, t.turn, where);
      // Within the budget, as the gateway counted and as the replica counted what it got.
      // The count covers the tool definitions too; the template's system preamble is all it misses.
      assert(t.sent.prompt_tokens <= BUDGET, `${where}: sent ${t.sent.prompt_tokens} tokens`);
      assert(t.usage.prompt_tokens <= BUDGET, `${where}: the replica got ${t.usage.prompt_tokens}`);
      assert(
        t.usage.prompt_tokens <= t.sent.prompt_tokens + 40,
        `${where}: counted ${t.sent.prompt_tokens}, the replica got ${t.usage.prompt_tokens}`,
      );
      assertEquals(prompt.length, t.sent.messages, where);
      // The replica counted what this prompt renders to: it was sent this prompt.
      assertEquals(t.usage.prompt_tokens, simPromptTokens(prompt, TOOLS, exact), where);
      assertEquals(prompt[0], { role: "system", content: SYSTEM }, where);
      assertEquals(prompt.slice(-t.input.length), t.input, where);
      assertToolPairs(prompt, where);
      const previous = turns[i - 1];
      if (previous === undefined) continue;
      if (previous.sent.compaction === k) {
        // Between two compactions the prompt only grows at its end: the replica's cache holds it.
        const before = [...previous.sent.prompt!, ...previous.output];
        assertEquals(
          JSON.stringify(prompt.slice(0, before.length)),
          JSON.stringify(before),
          `${where}: the prompt does not begin with the one before`,
        );
        const fullBlocks = Math.floor(previous.usage.prompt_tokens / 512) * 512;
        assert(t.usage.cached_tokens >= fullBlocks, `${where}: ${t.usage.cached_tokens} cached`);
      } else {
        assertEquals(k, previous.sent.compaction + 1, where);
      }
    }
    if (method === "summarize" || method === "hierarchical") {
      // The summaries were written by the model, asked through the gateway itself.
      const summaries = turns.flatMap((t) => t.sent.prompt!).filter((m) =>
        m.role === "user" && typeof m.content === "string" && m.content.startsWith("[Summary of ")
      );
      assert(summaries.length > 0, "no summary was sent");
      assert(compactions.some((c) => c.actions.some((a) => a.startsWith("summarized "))));
      assert(!compactions.some((c) => c.actions.some((a) => a.includes("fell back"))));
    }
    if (method === "mask_observations") {
      const masked = turns.flatMap((t) => t.sent.prompt!).filter((m) =>
        m.role === "tool" && typeof m.content === "string" &&
        m.content.startsWith("[tool output of ")
      );
      assert(masked.length > 0, "no observation was masked");
      assert(compactions.some((c) => c.actions.some((a) => a.startsWith("masked "))));
    }
    return compactions;
  } finally {
    await rig.close();
  }
}

for (const method of COMPRESSION_METHODS) {
  Deno.test(`${method} keeps a long agent loop in its budget, its prefix stable between compactions`, async () => {
    await compressedLoop(method);
  });
}

Deno.test("a session reloaded from KV between turns keeps its prompt prefix byte-identical", async () => {
  // Each turn finds its actor passivated: the context is rebuilt from the records every time.
  await compressedLoop("sliding_window", { sessions: { idle_passivate: 0.05 }, passivate: true });
});

Deno.test("the newest turns give way when they alone would pass the budget", async () => {
  // Two turns of three long tool outputs each are more than the budget holds with the next input.
  const compactions = await compressedLoop("sliding_window", {
    keepRecentTurns: 2,
    observationLines: 10,
  });
  assert(compactions.some((c) => c.actions.some((a) => a.includes("do not fit in the budget"))));
});

for (const method of ["summarize", "hierarchical"] as const) {
  Deno.test(`${method} still summarises when the newest turns fill the whole target`, async () => {
    // Two turns verbatim take more than the target: the summary still gets some room.
    const compactions = await compressedLoop(method, { keepRecentTurns: 2 });
    assert(compactions.every((c) => !c.actions.some((a) => a.startsWith("dropped "))));
  });
}
