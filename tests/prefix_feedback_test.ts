/**
 * The router learns from the replicas: through the gateway, with a real simulator whose KV budget
 * is far smaller than `proxy.prefix_cache_tokens` says, the router's estimate of its cache
 * (`x-turnpike-cached-estimate`) converges on what the replica reports
 * (`usage.prompt_tokens_details.cached_tokens`) with `prefix_feedback`, and stays off without it.
 */
import { ok as assert } from "node:assert/strict";
import { MODEL, startRig, type TestRig } from "../gateway/testing.ts";

/** Eight 512-token blocks (the simulator's block): room for about two of the prompts below. */
const SMALL_KV_TOKENS = 8 * 512;
const CONVERSATIONS = 5;
const ROUNDS = 6;

/** A prompt of about three simulator blocks that differs per conversation from its first character. */
function promptOf(conversation: number): string {
  const words: string[] = [];
  for (let i = 0; words.join(" ").length < 6_500; i++) words.push(`c${conversation}w${i}`);
  return words.join(" ");
}

interface Turn {
  predicted: number;
  reported: number;
}

async function turn(rig: TestRig, conversation: number): Promise<Turn> {
  const { data: stream, response } = await rig.client.chat.completions.create({
    model: MODEL,
    messages: [{ role: "user", content: promptOf(conversation) }],
    max_tokens: 2,
    stream: true,
    stream_options: { include_usage: true },
  }).withResponse();
  let reported: number | undefined;
  for await (const chunk of stream) {
    const cached = chunk.usage?.prompt_tokens_details?.cached_tokens;
    if (typeof cached === "number") reported = cached;
  }
  const header = response.headers.get("x-turnpike-cached-estimate");
  assert(header !== null, "the gateway sends its estimate beside the answer");
  assert(reported !== undefined, "the simulator reports cached tokens");
  return { predicted: Number(header), reported };
}

/** The mean absolute error of the estimate in each round of every conversation in turn. */
async function errorsByRound(feedback: boolean): Promise<number[]> {
  const rig = await startRig({
    replicas: 1,
    sim: { kvTokens: SMALL_KV_TOKENS },
    proxy: { strategy: "prefix_aware", prefix_feedback: feedback },
  });
  try {
    const errors: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      let sum = 0;
      const order = [...Array(CONVERSATIONS).keys()];
      for (const c of order) {
        const t = await turn(rig, c);
        sum += Math.abs(t.predicted - t.reported);
        // The report reaches the router by message after the answer: let it land, as the next
        // request of a real client would come later anyway.
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      errors.push(sum / order.length);
    }
    // The last conversation again at once: the replica holds it, and the estimate says so.
    const again = await turn(rig, CONVERSATIONS - 1);
    assert(again.reported > 0, `the replica reports hits on a repeated prompt: ${again.reported}`);
    assert(Math.abs(again.predicted - again.reported) <= 512, `estimate ${again.predicted}`);
    return errors;
  } finally {
    await rig.close();
  }
}

Deno.test("with prefix_feedback the router's estimate of a small replica's cache converges on its reports", async () => {
  const open = await errorsByRound(false);
  const closed = await errorsByRound(true);
  // The replica holds two of the five prompts: cycling through them, it never finds one cached,
  // while an open-loop index the size of prefix_cache_tokens expects all of every prompt.
  const openLate = open.slice(-3).reduce((a, b) => a + b, 0) / 3;
  const closedLate = closed.slice(-3).reduce((a, b) => a + b, 0) / 3;
  assert(openLate >= 1000, `open loop stays off by about a prompt: ${open}`);
  assert(closedLate <= 0.1 * openLate, `feedback converges: ${closed} against ${open}`);
});
