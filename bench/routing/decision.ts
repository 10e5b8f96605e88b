/**
 * `bench routing --decision-only`: one routing decision, micro-benchmarked. The router's picker
 * (`proxy.strategy`'s real code) chooses among 64 replicas whose prefix indexes are filled to
 * their capacity, for prompts of 100k characters; the prompt's features (its block hashes, what
 * the hot path computes once per request) are timed apart. Also reported: the router's memory per
 * replica, from the heap and V8's external memory (typed arrays' contents) before and after the
 * indexes were filled, each after a full garbage collection, in a child process run with V8's
 * `--expose-gc` (this file as its main module).
 */
import { DEFAULT_LOAD_BOUND } from "../../config/mod.ts";
import {
  type BackendView,
  createPicker,
  needsPromptText,
  type RequestFeatures,
  requestFeatures,
  strategyOptions,
} from "../../actors/router/mod.ts";
import { quantile } from "../../sim/mod.ts";
import { type RunStrategy, strategyLabel } from "./run.ts";

/** Options of {@linkcode decisionBench}. */
export interface DecisionOptions {
  /** Replicas to choose among. @default 64 */
  replicas?: number;
  /** Characters of each prompt. @default 100_000 */
  promptChars?: number;
  /** Prompt tokens each replica's cache holds (`proxy.prefix_cache_tokens`). @default 430_000 */
  cacheTokens?: number;
  /** Decisions timed. @default 20_000 */
  decisions?: number;
}

/** What {@linkcode decisionBench} measured. */
export interface DecisionResult {
  strategy: string;
  replicas: number;
  promptChars: number;
  /** Prefix blocks of each prompt. */
  promptBlocks: number;
  decisions: number;
  /** One `pick` (scoring every replica and learning the choice), microseconds. */
  pickUs: { mean: number; p50: number; p99: number; max: number };
  /** `requestFeatures` of one prompt (hashing it into blocks), microseconds. */
  featuresUs: { mean: number; p99: number };
  /** Prefix blocks held per replica after the fill. */
  blocksPerReplica: number;
  /** Bytes (heap and external) the router holds per replica (its prefix index at capacity), and per block; NaN when unmeasured. */
  bytesPerReplica: number;
  bytesPerBlock: number;
  /** Whether the p99 pick is under 20 us. */
  pickP99Under20Us: boolean;
}

const BLOCK_CHARS = 2048;

/** A prompt of `chars` characters, distinct per conversation from its first block on. */
function prompt(conversation: number, chars: number): string {
  const unit = `conversation ${conversation} says hello to the router. `;
  return unit.repeat(Math.ceil(chars / unit.length)).slice(0, chars);
}

function features(conversation: number, chars: number, withText: boolean): RequestFeatures {
  return requestFeatures({
    model: "m",
    messages: [{ role: "user", content: prompt(conversation, chars) }],
  }, { sessionId: undefined, blockChars: BLOCK_CHARS, ...(withText ? { promptText: true } : {}) });
}

/** A picker for `strategy` with every replica's state filled to capacity, and recent turns to route. */
interface Filled {
  picker: ReturnType<typeof createPicker>;
  views: BackendView[];
  recent: RequestFeatures[];
  blocks: number;
  capacityBlocks: number;
}

/** The picker's part: each conversation goes to one replica in turn until every index is full. */
function fillPicker(
  strategy: Exclude<RunStrategy, "baseline">,
  pool: readonly RequestFeatures[],
  views: readonly BackendView[],
  cacheTokens: number,
): Omit<Filled, "views"> {
  const replicas = views.length;
  const proxy = {
    load_bound: DEFAULT_LOAD_BOUND,
    prefix_block_chars: BLOCK_CHARS,
    prefix_cache_tokens: cacheTokens,
  };
  const blocks = pool[0]!.prefixHashes.length;
  const capacityBlocks = Math.ceil((cacheTokens * 4) / BLOCK_CHARS);
  const conversations = Math.ceil((capacityBlocks / blocks) * replicas * 1.2);
  const picker = createPicker(strategy, strategyOptions(proxy, { now: () => 0 }));
  const recent: RequestFeatures[] = [];
  for (let c = 0; c < conversations; c++) {
    const f = pool[c % pool.length]!;
    const turn = { ...f, prefixHashes: f.prefixHashes.map((h) => h + c) };
    picker.pick(turn, [views[c % replicas]!]);
    if (c >= conversations - 4 * replicas) recent.push(turn);
  }
  return { picker, recent, blocks, capacityBlocks };
}

function viewsOf(replicas: number): BackendView[] {
  return Array.from({ length: replicas }, (_, i) => ({
    id: `replica-${i}`,
    url: `http://10.0.0.${i}:8000`,
    inFlight: i % 3,
    ewmaTtftMs: 100 + i,
    load: { running: i % 5, waiting: 0, kvUsage: 0.5, scrapedAtMs: 0 },
  }));
}

function poolOf(chars: number, strategy: Exclude<RunStrategy, "baseline">): RequestFeatures[] {
  const withText = needsPromptText(strategy);
  return Array.from({ length: 64 }, (_, c) => features(c, chars, withText));
}

/**
 * Bytes (heap and external) the filled router of `strategy` holds per replica, measured in a child process that
 * can collect garbage; throws with the child's own error when it fails.
 */
async function bytesPerReplica(
  strategy: Exclude<RunStrategy, "baseline">,
  replicas: number,
  chars: number,
  cacheTokens: number,
): Promise<number> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--v8-flags=--expose-gc",
      new URL(import.meta.url).pathname,
      JSON.stringify({ strategy, replicas, chars, cacheTokens }),
    ],
    cwd: new URL("../../", import.meta.url).pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  const printed = text.decode(out.stdout).trim();
  const bytes = Number(printed);
  if (out.success && printed !== "" && Number.isFinite(bytes)) return bytes;
  throw new Error(
    `The memory measure's child exited ${out.code} printing "${printed.slice(-200)}": ${
      text.decode(out.stderr).slice(-600)
    }`,
  );
}

/** The child's side of {@linkcode bytesPerReplica}: fill, collect, print the bytes per replica. */
function measureMemory(args: string): void {
  const { strategy, replicas, chars, cacheTokens } = JSON.parse(args);
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error("run with --v8-flags=--expose-gc");
  const views = viewsOf(replicas);
  const pool = poolOf(chars, strategy);
  // Typed arrays keep their contents outside the heap, in V8's external memory: count both.
  const used = () => {
    const { heapUsed, external } = Deno.memoryUsage();
    return heapUsed + external;
  };
  gc();
  const before = used();
  const filled = fillPicker(strategy, pool, views, cacheTokens);
  filled.recent.length = 0;
  gc();
  const after = used();
  // Keep the picker alive past the second measure.
  if (filled.picker.pick(pool[0]!, views) === undefined) throw new Error("no pick");
  console.log(String(Math.max(0, after - before) / replicas));
}

if (import.meta.main) measureMemory(Deno.args[0] ?? "{}");

/** Micro-benchmarks one routing decision of `strategy`. */
export async function decisionBench(
  strategy: RunStrategy,
  options: DecisionOptions = {},
): Promise<DecisionResult> {
  if (strategy === "baseline") throw new Error("The baseline makes no routing decision");
  const replicas = options.replicas ?? 64;
  const chars = options.promptChars ?? 100_000;
  const cacheTokens = options.cacheTokens ?? 430_000;
  const decisions = options.decisions ?? 20_000;
  const views = viewsOf(replicas);
  const pool = poolOf(chars, strategy);
  const { picker, recent, blocks, capacityBlocks } = fillPicker(strategy, pool, views, cacheTokens);
  // Each decision is a next turn of a recent conversation: one replica holds its prefix, the
  // others' indexes are searched and miss (the realistic case: one hit, 63 misses).
  const times: number[] = [];
  for (let i = 0; i < decisions + 1_000; i++) {
    const f = { ...recent[i % recent.length]! };
    const t = performance.now();
    picker.pick(f, views);
    const us = (performance.now() - t) * 1000;
    if (i >= 1_000) times.push(us);
  }
  times.sort((a, b) => a - b);
  const featureTimes: number[] = [];
  const text = prompt(1, chars);
  const body = { model: "m", messages: [{ role: "user", content: text }] };
  for (let i = 0; i < 300; i++) {
    const t = performance.now();
    requestFeatures(body, { sessionId: undefined, blockChars: BLOCK_CHARS });
    if (i >= 50) featureTimes.push((performance.now() - t) * 1000);
  }
  featureTimes.sort((a, b) => a - b);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const bytes = await bytesPerReplica(strategy, replicas, chars, cacheTokens);
  const p99 = quantile(times, 0.99);
  return {
    strategy: strategyLabel(strategy),
    replicas,
    promptChars: chars,
    promptBlocks: blocks,
    decisions,
    pickUs: { mean: mean(times), p50: quantile(times, 0.5), p99, max: times.at(-1) ?? NaN },
    featuresUs: { mean: mean(featureTimes), p99: quantile(featureTimes, 0.99) },
    blocksPerReplica: capacityBlocks,
    bytesPerReplica: bytes,
    bytesPerBlock: bytes / capacityBlocks,
    pickP99Under20Us: p99 < 20,
  };
}
