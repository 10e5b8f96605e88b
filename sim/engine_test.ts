import { assert, assertAlmostEquals, assertEquals, assertGreater, assertLess } from "./_assert.ts";
import { type Clock, type ClockTimer, RealClock, VirtualClock } from "./clock.ts";
import { Engine, type EngineOptions, type SequenceResult } from "./engine.ts";
import { BLOCK_TOKENS } from "./kv_cache.ts";
import { decodeStepMs, stepMs } from "./latency.ts";
import { renderChat } from "./chat_template.ts";
import { outputPieces } from "./text.ts";
import { createTokenizer } from "./tokens.ts";

function setup(options: EngineOptions = {}) {
  const clock = new VirtualClock();
  const engine = new Engine(clock, options);
  const tokens = new Map<string, number[]>();
  const results = new Map<string, SequenceResult>();
  const submit = (
    id: string,
    promptTokens: number,
    maxTokens: number,
    blockHashes: number[] = [],
  ) => {
    tokens.set(id, []);
    engine.submit({ id, promptTokens, maxTokens, blockHashes }, {
      onToken: (_, at) => tokens.get(id)!.push(at),
      onFinish: (r) => results.set(id, r),
    });
  };
  return { clock, engine, tokens, results, submit };
}

/** Hashes 0..n-1 offset by `base`, as chained ids of a prompt's blocks. */
function blocks(base: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => base + i);
}

Deno.test("a lone request's first token comes after one prefill step and the rest one decode step apart", () => {
  const { clock, engine, tokens, results, submit } = setup();
  submit("a", 2048, 4);
  clock.runUntilIdle();
  const t = tokens.get("a")!;
  assertEquals(t.length, 4);
  assertAlmostEquals(t[0]!, stepMs([{ contextTokens: 0, newTokens: 2048, prefill: true }]), 1e-9);
  assertAlmostEquals(t[1]! - t[0]!, decodeStepMs(2049), 1e-9);
  assertEquals(results.get("a")!.reason, "length");
  assertEquals(engine.numRunning, 0);
  engine.close();
});

Deno.test("requests are admitted in arrival order and the batch never exceeds max_num_seqs", () => {
  const { clock, engine, submit } = setup({ maxNumSeqs: 2 });
  submit("a", 100, 50);
  submit("b", 100, 50);
  submit("c", 100, 50);
  submit("d", 100, 50);
  clock.advance(1);
  assertEquals(engine.runningIds, ["a", "b"]);
  assertEquals(engine.waitingIds, ["c", "d"]);
  clock.runUntilIdle();
  assertEquals(engine.numRunning + engine.numWaiting, 0);
  engine.close();
});

Deno.test("a prompt longer than max_num_batched_tokens is prefilled in chunks", () => {
  const { clock, engine, tokens, submit } = setup({ maxNumBatchedTokens: 4096 });
  submit("long", 10_000, 1);
  clock.runUntilIdle();
  const chunks = [
    stepMs([{ contextTokens: 0, newTokens: 4096, prefill: true }]),
    stepMs([{ contextTokens: 4096, newTokens: 4096, prefill: true }]),
    stepMs([{ contextTokens: 8192, newTokens: 1808, prefill: true }]),
  ];
  assertEquals(engine.steps, 3);
  assertAlmostEquals(tokens.get("long")![0]!, chunks[0]! + chunks[1]! + chunks[2]!, 1e-6);
  engine.close();
});

Deno.test("decodes of running requests share a step with a new prefill within the token budget", () => {
  const { clock, engine, tokens, submit } = setup({ maxNumBatchedTokens: 1000 });
  submit("a", 500, 3);
  clock.runUntilIdle();
  submit("b", 999, 1);
  submit("c", 600, 3);
  clock.advance(1);
  // b takes 999 tokens of the budget; c's prefill gets the 1 left.
  assertEquals(engine.runningIds, ["b", "c"]);
  clock.runUntilIdle();
  assertEquals(tokens.get("c")!.length, 3);
  engine.close();
});

Deno.test("a repeated prompt hits the prefix cache and gets its first token sooner", () => {
  const { clock, engine, tokens, results, submit } = setup();
  const hashes = blocks(1, 16);
  submit("cold", 16 * BLOCK_TOKENS + 100, 1, hashes);
  clock.runUntilIdle();
  const coldTtft = tokens.get("cold")![0]!;
  const start = clock.now();
  submit("warm", 16 * BLOCK_TOKENS + 300, 1, hashes);
  clock.runUntilIdle();
  const warmTtft = tokens.get("warm")![0]! - start;
  assertEquals(results.get("cold")!.cachedTokens, 0);
  assertEquals(results.get("warm")!.cachedTokens, 16 * BLOCK_TOKENS);
  assertLess(warmTtft * 5, coldTtft);
  assertEquals(engine.kv.stats.hits, 16 * BLOCK_TOKENS);
  engine.close();
});

Deno.test("a fully cached prompt still recomputes its last block", () => {
  const { clock, engine, results, submit } = setup();
  submit("a", 4 * BLOCK_TOKENS, 1, blocks(1, 4));
  clock.runUntilIdle();
  submit("b", 4 * BLOCK_TOKENS, 1, blocks(1, 4));
  clock.runUntilIdle();
  assertEquals(results.get("b")!.cachedTokens, 3 * BLOCK_TOKENS);
  engine.close();
});

Deno.test("blocks filled by generated tokens enter the prefix cache once computed", () => {
  const { clock, engine, results, submit } = setup();
  // 2 prompt blocks and 100 tokens, then 1,500 generated: 5 full blocks are computed (the last
  // generated token's KV never is), and the caller knows all their hashes up front.
  submit("turn-1", 2 * BLOCK_TOKENS + 100, 1500, blocks(1, 5));
  clock.runUntilIdle();
  assertEquals(engine.kv.cachedBlocks, 5);
  submit("turn-2", 2 * BLOCK_TOKENS + 1700, 1, [...blocks(1, 5), 99]);
  clock.runUntilIdle();
  assertEquals(results.get("turn-2")!.cachedTokens, 5 * BLOCK_TOKENS);
  engine.close();
});

for (const mode of ["exact", "approx"] as const) {
  Deno.test(`a second turn (${mode} tokens) finds the first turn's answer in the prefix cache`, async () => {
    const tokenizer = await createTokenizer(mode);
    const { clock, engine, results } = setup();
    const history = [
      { role: "system", content: "You are terse." },
      { role: "user", content: "Explain the plan. ".repeat(120) },
    ];
    const first = tokenizer.tokenize(renderChat(history));
    const answer = outputPieces(4, 1200);
    engine.submit({
      id: "turn-1",
      promptTokens: first.tokens,
      blockHashes: first.withOutput(answer),
      maxTokens: answer.length,
    }, { onFinish: (r) => results.set("turn-1", r) });
    clock.runUntilIdle();
    const second = tokenizer.tokenize(renderChat([
      ...history,
      { role: "assistant", content: answer.join("") },
      { role: "user", content: "Go on." },
    ]));
    engine.submit({
      id: "turn-2",
      promptTokens: second.tokens,
      blockHashes: second.blockHashes,
      maxTokens: 1,
    }, { onFinish: (r) => results.set("turn-2", r) });
    clock.runUntilIdle();
    const promptBlocks = Math.floor(first.tokens / BLOCK_TOKENS);
    const computedBlocks = Math.floor((first.tokens + answer.length - 1) / BLOCK_TOKENS);
    assertGreater(computedBlocks, promptBlocks + 1);
    assertEquals(results.get("turn-1")!.outputTokens, answer.length);
    assertEquals(results.get("turn-2")!.cachedTokens, computedBlocks * BLOCK_TOKENS);
    engine.close();
  });
}

Deno.test("the least recently used cached blocks are evicted when the KV budget is full", () => {
  const { clock, engine, results, submit } = setup({ kvTokens: 10 * BLOCK_TOKENS });
  submit("old", 4 * BLOCK_TOKENS, 1, blocks(100, 4));
  clock.runUntilIdle();
  submit("recent", 4 * BLOCK_TOKENS, 1, blocks(200, 4));
  clock.runUntilIdle();
  // 8 of 10 blocks are cached; a 4-block prompt must evict 2, from "old" (used first).
  submit("new", 4 * BLOCK_TOKENS, 1, blocks(300, 4));
  clock.runUntilIdle();
  assertEquals(engine.kv.stats.evictions, 2);
  submit("recent-again", 4 * BLOCK_TOKENS + 10, 1, blocks(200, 4));
  clock.runUntilIdle();
  assertEquals(results.get("recent-again")!.cachedTokens, 4 * BLOCK_TOKENS);
  submit("old-again", 4 * BLOCK_TOKENS + 10, 1, blocks(100, 4));
  clock.runUntilIdle();
  assertLess(results.get("old-again")!.cachedTokens, 4 * BLOCK_TOKENS);
  engine.close();
});

Deno.test("a request waits while the KV cache is full and runs once blocks are freed", () => {
  const { clock, engine, tokens, submit } = setup({ kvTokens: 8 * BLOCK_TOKENS });
  submit("big", 6 * BLOCK_TOKENS, 200);
  clock.advance(1);
  submit("next", 3 * BLOCK_TOKENS, 1);
  clock.advance(50);
  assertEquals(engine.runningIds, ["big"]);
  assertEquals(engine.waitingIds, ["next"]);
  assertGreater(engine.kv.usage, 0.7);
  clock.runUntilIdle();
  assertEquals(tokens.get("big")!.length, 200);
  assertGreater(tokens.get("next")![0]!, tokens.get("big")!.at(-1)! - 1e-9);
  engine.close();
});

Deno.test("aborting a running request frees its slot and KV blocks at once", () => {
  const { clock, engine, tokens, submit } = setup();
  submit("a", 4000, 1000);
  submit("b", 4000, 1000);
  clock.advance(500);
  assertEquals(engine.numRunning, 2);
  const used = engine.kv.usedBlocks;
  assert(engine.abort("a"));
  assertEquals(engine.numRunning, 1);
  assertLess(engine.kv.usedBlocks, used);
  const before = tokens.get("a")!.length;
  clock.advance(500);
  assertEquals(tokens.get("a")!.length, before);
  assert(!engine.abort("a"));
  assertEquals(engine.metrics.finished.abort, 1);
  engine.close();
});

Deno.test("aborting a waiting request removes it from the queue", () => {
  const { clock, engine, submit } = setup({ maxNumSeqs: 1 });
  submit("a", 100, 100);
  submit("b", 100, 100);
  clock.advance(1);
  assertEquals(engine.waitingIds, ["b"]);
  assert(engine.abort("b"));
  assertEquals(engine.numWaiting, 0);
  engine.close();
});

Deno.test("a decode that finds no free block preempts the newest request, which resumes later", () => {
  const { clock, engine, tokens, results, submit } = setup({ kvTokens: 4 * BLOCK_TOKENS });
  submit("first", BLOCK_TOKENS + 500, 600);
  submit("second", BLOCK_TOKENS + 500, 600);
  clock.runUntilIdle();
  assertGreater(engine.metrics.preemptions, 0);
  assertEquals(tokens.get("first")!.length, 600);
  assertEquals(tokens.get("second")!.length, 600);
  assertEquals(results.get("second")!.outputTokens, 600);
  assertEquals(engine.kv.usedBlocks, 0);
  engine.close();
});

Deno.test("the same arrivals give the same token times on a virtual clock", () => {
  const run = () => {
    const { clock, engine, tokens, submit } = setup({ kvTokens: 20 * BLOCK_TOKENS, maxNumSeqs: 3 });
    for (let i = 0; i < 6; i++) {
      submit(`r${i}`, 1000 + 700 * i, 20 + i, blocks(i % 2, 1));
      clock.advance(13);
    }
    clock.runUntilIdle();
    engine.close();
    return [...tokens.values()].flat();
  };
  assertEquals(run(), run());
});

Deno.test("metrics report seconds of simulated time divided by the time scale", () => {
  const plain = setup();
  const scaled = setup({ metricsTimeScale: 10 });
  for (const s of [plain, scaled]) {
    s.submit("a", 2048, 5);
    s.clock.runUntilIdle();
    s.engine.close();
  }
  assertAlmostEquals(scaled.engine.metrics.ttft.sum * 10, plain.engine.metrics.ttft.sum, 1e-9);
  assertAlmostEquals(scaled.engine.metrics.e2e.sum * 10, plain.engine.metrics.e2e.sum, 1e-9);
  assertEquals(plain.engine.metrics.itl.count, 4);
});

Deno.test("a slow-tokens setting stretches every step", () => {
  const { clock, engine, tokens, submit } = setup();
  engine.extraStepMs = 40;
  submit("a", 100, 3);
  clock.runUntilIdle();
  const t = tokens.get("a")!;
  assertAlmostEquals(t[2]! - t[1]!, decodeStepMs(102) + 40, 1e-9);
  engine.close();
});

Deno.test("submit rejects a prompt larger than the whole KV cache", () => {
  const { engine } = setup({ kvTokens: 4 * BLOCK_TOKENS });
  let error: unknown;
  try {
    engine.submit({ id: "x", promptTokens: 5 * BLOCK_TOKENS, maxTokens: 1, blockHashes: [] });
  } catch (e) {
    error = e;
  }
  assert(error instanceof RangeError);
  engine.close();
});

/**
 * An engine with a host KV tier of 400 blocks and a GPU pool of `kvBlocks`, on which each of
 * `prompts` (block hashes, plus 100 tokens) was computed as `first-<i>` and then pushed out of
 * the GPU by a prompt filling the whole pool: they are left in the host tier only.
 */
function hostOnlySetup(kvBlocks: number, prompts: number[][], options: EngineOptions = {}) {
  const s = setup({
    kvTokens: kvBlocks * BLOCK_TOKENS,
    offloadTokens: 400 * BLOCK_TOKENS,
    ...options,
  });
  prompts.forEach((hashes, i) => {
    s.submit(`first-${i}`, hashes.length * BLOCK_TOKENS + 100, 1, hashes);
    s.clock.runUntilIdle();
  });
  s.submit("flush", kvBlocks * BLOCK_TOKENS - 1, 1, blocks(1000, kvBlocks - 1));
  s.clock.runUntilIdle();
  for (const hashes of prompts) assertEquals(s.engine.kv.cachedPrefixBlocks(hashes), 0);
  return s;
}

/** Ms to load `tokens` of KV (131,072 bytes each) at `bytesPerS`. */
function loadMs(tokens: number, bytesPerS = 32e9): number {
  return tokens * 131_072 / bytesPerS * 1000;
}

/** The step that prefills the last 100 tokens of a prompt whose first `blocks` are in KV. */
function restMs(blocks: number): number {
  return stepMs([{ contextTokens: blocks * BLOCK_TOKENS, newTokens: 100, prefill: true }]);
}

Deno.test("a prompt pushed out of the GPU but kept in the host tier is loaded, not recomputed: cached tokens and a TTFT of the load plus the rest", () => {
  const { clock, engine, tokens, results, submit } = hostOnlySetup(40, [blocks(1, 32)]);
  const coldTtft = tokens.get("first-0")![0]!;
  const start = clock.now();
  submit("again", 32 * BLOCK_TOKENS + 100, 1, blocks(1, 32));
  clock.runUntilIdle();
  const ttft = tokens.get("again")![0]! - start;
  assertEquals(results.get("again")!.cachedTokens, 32 * BLOCK_TOKENS);
  assertAlmostEquals(ttft, loadMs(32 * BLOCK_TOKENS) + restMs(32), 1e-6);
  assertLess(ttft * 5, coldTtft);
  assertEquals(engine.kv.stats.hits, 0);
  assertEquals(engine.kv.stats.externalHits, 32 * BLOCK_TOKENS);
  assertEquals(engine.kv.stats.externalQueries, engine.kv.stats.queries);
  // The loaded blocks are GPU prefix-cache blocks again.
  assertEquals(engine.kv.cachedPrefixBlocks(blocks(1, 32)), 32);
  engine.close();
});

Deno.test("two loads from the host tier share the link one after the other", () => {
  const bandwidth = 8e9;
  const { clock, engine, tokens, submit } = hostOnlySetup(40, [blocks(1, 8), blocks(100, 8)], {
    offloadBandwidthBytesPerS: bandwidth,
  });
  const start = clock.now();
  submit("a", 8 * BLOCK_TOKENS + 100, 1, blocks(1, 8));
  submit("b", 8 * BLOCK_TOKENS + 100, 1, blocks(100, 8));
  clock.advance(0);
  assertEquals(engine.loadingIds, ["a", "b"]);
  assertEquals(engine.numRunning, 0);
  clock.runUntilIdle();
  const load = loadMs(8 * BLOCK_TOKENS, bandwidth);
  assertAlmostEquals(tokens.get("a")![0]! - start, load + restMs(8), 1e-6);
  assertAlmostEquals(tokens.get("b")![0]! - start, 2 * load + restMs(8), 1e-6);
  engine.close();
});

Deno.test("a running decode keeps its pace while another request loads from the host tier", () => {
  const bandwidth = 2e9;
  const { clock, engine, tokens, results, submit } = hostOnlySetup(24, [blocks(1, 8)], {
    offloadBandwidthBytesPerS: bandwidth,
  });
  submit("decode", 512, 400);
  clock.advance(50);
  const arrival = clock.now();
  submit("loaded", 8 * BLOCK_TOKENS + 100, 1, blocks(1, 8));
  const load = loadMs(8 * BLOCK_TOKENS, bandwidth);
  clock.advance(load / 2);
  assertEquals(engine.loadingIds, ["loaded"]);
  assertEquals(engine.runningIds, ["decode"]);
  clock.runUntilIdle();
  const decode = tokens.get("decode")!;
  assertEquals(decode.length, 400);
  assertGreater(decode.filter((t) => t > arrival && t < arrival + load).length, 40);
  for (let i = 1; i < decode.length; i++) assertLess(decode[i]! - decode[i - 1]!, restMs(9));
  assertGreater(tokens.get("loaded")![0]!, arrival + load);
  assertEquals(results.get("loaded")!.cachedTokens, 8 * BLOCK_TOKENS);
  engine.close();
});

Deno.test("a request that arrives while an idle engine waits for a load runs at its arrival", () => {
  const bandwidth = 2e9;
  const { clock, engine, tokens, submit } = hostOnlySetup(40, [blocks(1, 8)], {
    offloadBandwidthBytesPerS: bandwidth,
  });
  const start = clock.now();
  submit("loaded", 8 * BLOCK_TOKENS + 100, 1, blocks(1, 8));
  clock.advance(10);
  submit("fresh", 100, 1);
  clock.runUntilIdle();
  assertAlmostEquals(tokens.get("fresh")![0]! - start, 10 + restMs(0), 1e-6);
  assertAlmostEquals(
    tokens.get("loaded")![0]! - start,
    loadMs(8 * BLOCK_TOKENS, bandwidth) + restMs(8),
    1e-6,
  );
  engine.close();
});

Deno.test("aborting a request that loads from the host tier frees its blocks", () => {
  const { clock, engine, tokens, results, submit } = hostOnlySetup(40, [blocks(1, 8)]);
  submit("loaded", 8 * BLOCK_TOKENS + 100, 5, blocks(1, 8));
  clock.advance(0);
  assertEquals(engine.numLoading, 1);
  assertEquals(engine.kv.usedBlocks, 9);
  assert(engine.abort("loaded"));
  assertEquals(engine.numLoading, 0);
  assertEquals(engine.kv.usedBlocks, 0);
  clock.runUntilIdle();
  assertEquals(tokens.get("loaded"), []);
  assertEquals(results.has("loaded"), false);
  engine.close();
});

/** A real clock that counts the timers the engine asks it for. */
class CountingClock implements Clock {
  readonly #inner: RealClock;
  readonly realMsPerSimMs: number;
  timers = 0;

  constructor(timeScale: number) {
    this.#inner = new RealClock({ timeScale });
    this.realMsPerSimMs = this.#inner.realMsPerSimMs;
  }

  now(): number {
    return this.#inner.now();
  }

  at(atMs: number, fn: () => void): ClockTimer {
    this.timers++;
    return this.#inner.at(atMs, fn);
  }
}

interface RealRun {
  /** Token times relative to the request's arrival, in simulated ms. */
  tokens: number[];
  result: SequenceResult;
  /** Tokens that fired before their simulated time had come on the clock. */
  early: number;
}

/** Runs one request on `engine` and resolves when it ends; the clock is checked at every token. */
function runOn(engine: Engine, clock: Clock, id: string, promptTokens: number, maxTokens: number) {
  const times: number[] = [];
  let early = 0;
  return new Promise<RealRun>((resolve) => {
    engine.submit({ id, promptTokens, maxTokens, blockHashes: [] }, {
      onToken: (_, at) => {
        times.push(at);
        if (clock.now() < at) early++;
      },
      onFinish: (result) =>
        resolve({ tokens: times.map((t) => t - result.arrivalMs), result, early }),
    });
  });
}

/** The token times of the same lone request on a virtual clock, relative to its arrival. */
function modelTokens(promptTokens: number, maxTokens: number): number[] {
  const { clock, engine, tokens, submit } = setup();
  clock.advance(1000);
  submit("model", promptTokens, maxTokens);
  clock.runUntilIdle();
  engine.close();
  return tokens.get("model")!.map((t) => t - 1000);
}

function assertSameTimes(actual: number[], expected: number[]): void {
  assertEquals(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) assertAlmostEquals(actual[i]!, expected[i]!, 1e-6);
}

Deno.test("on a real clock a request runs on the model's time line: same token times as on a virtual clock, one step a token, none early", async () => {
  const scale = 100;
  const clock = new RealClock({ timeScale: scale });
  const engine = new Engine(clock, { metricsTimeScale: scale });
  const run = await runOn(engine, clock, "a", 100, 400);
  engine.close();
  // 400 tokens are about 2,150 simulated ms: 21.5 real ms, far more timers than Deno fires.
  assertSameTimes(run.tokens, modelTokens(100, 400));
  assertEquals(engine.steps, 400);
  assertEquals(run.early, 0);
  assertEquals(engine.metrics.queue.sum, 0);
  assertAlmostEquals(
    engine.metrics.e2e.sum,
    (run.result.finishMs - run.result.arrivalMs) / 1000 / scale,
    1e-9,
  );
  // How late steps end depends on the machine's load; a loop that fell behind by a timer per
  // step would be over a second of real time late, a catching-up loop a few ms.
  assertLess(engine.lag.maxMs / scale, 1000);
});

Deno.test("on a real clock steps shorter than a timer's granularity are caught up in bursts, not one timer each", async () => {
  // At this scale a decode step is 0.05 real microseconds: every step after the first timer is due.
  const clock = new CountingClock(100_000);
  const engine = new Engine(clock);
  const run = await runOn(engine, clock, "a", 100, 2000);
  engine.close();
  assertSameTimes(run.tokens, modelTokens(100, 2000));
  assertEquals(engine.steps, 2000);
  assertEquals(run.early, 0);
  assertLess(clock.timers, 200);
});

Deno.test("on a real clock an engine that was idle takes the next request at its arrival, with no burst to catch up", async () => {
  const scale = 100;
  const clock = new CountingClock(scale);
  const engine = new Engine(clock, { metricsTimeScale: scale });
  await runOn(engine, clock, "a", 100, 50);
  const stepsBefore = engine.steps;
  // 30 real ms idle are 3,000 simulated ms: about 550 decode steps if idle time were caught up.
  await new Promise((resolve) => setTimeout(resolve, 30));
  const run = await runOn(engine, clock, "b", 300, 50);
  engine.close();
  assertSameTimes(run.tokens, modelTokens(300, 50));
  assertAlmostEquals(
    run.result.firstTokenMs! - run.result.arrivalMs,
    stepMs([{ contextTokens: 0, newTokens: 300, prefill: true }]),
    1e-6,
  );
  assertEquals(engine.steps - stepsBefore, 50);
  assertEquals(run.early, 0);
  assertEquals(engine.metrics.queue.sum, 0);
});

Deno.test("under the priority policy the waiting queue is served by priority, then arrival", () => {
  const clock = new VirtualClock();
  const engine = new Engine(clock, { maxNumSeqs: 1, schedulingPolicy: "priority" });
  const order: string[] = [];
  const submit = (id: string, priority: number) =>
    engine.submit({ id, promptTokens: 512, maxTokens: 2, blockHashes: [], priority }, {
      onFinish: () => order.push(id),
    });
  submit("worst", 5);
  submit("low-1", 2);
  submit("low-2", 2);
  submit("high", 0);
  submit("medium", 1);
  assertEquals(engine.waitingIds, ["high", "medium", "low-1", "low-2", "worst"]);
  clock.runUntilIdle();
  assertEquals(order, ["high", "medium", "low-1", "low-2", "worst"]);
  engine.close();
});

Deno.test("under fcfs the priority field does not reorder the waiting queue", () => {
  const clock = new VirtualClock();
  const engine = new Engine(clock, { maxNumSeqs: 1 });
  for (const [id, priority] of [["a", 0], ["b", 2], ["c", 0]] as const) {
    engine.submit({ id, promptTokens: 512, maxTokens: 2, blockHashes: [], priority });
  }
  assertEquals(engine.waitingIds, ["a", "b", "c"]);
  engine.close();
});
