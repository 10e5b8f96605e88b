/** A generated Mooncake-format trace of mixed, mostly single-turn traffic: the routing bench's check on a trace it was not tuned on. */
import type { TraceRequest } from "../../sim/mod.ts";
import { mulberry32 } from "../../sim/mod.ts";
import { BLOCK_TOKENS } from "../../sim/mod.ts";

/** Options of {@linkcode generateMixedTrace}. */
export interface MixedTraceOptions {
  /** Requests to generate. @default 3000 */
  requests?: number;
  /** Mean arrivals per second (Poisson). @default 16 */
  ratePerSecond?: number;
  /** Seed of the generator: the same seed gives the same trace. @default 1 */
  seed?: number;
  /** Share of requests that are single-turn (the rest are turns of short conversations). @default 0.7 */
  singleTurnShare?: number;
  /** Distinct system prompts that single-turn requests start with. @default 6 */
  systemPrompts?: number;
  /**
   * Least and most ms between a conversation's turns (an agent's tool call in between).
   * @default [2000, 30000]
   */
  turnGapMs?: readonly [number, number];
}

/**
 * Generates a trace unlike the Mooncake one: most requests single-turn, opened by one of a few
 * shared system prompts (1 to 3 blocks, so some prefix is shared across sessions) and followed
 * by their own text; the rest are 2- to 4-turn conversations with short contexts (at most about
 * 12k tokens); Poisson arrivals at `ratePerSecond`, outputs of 16 to 400 tokens; a conversation's
 * turns 2 to 30 s apart (`turnGapMs`). Every request names its conversation in `session_id` (a
 * single-turn request has one of its own), as a client sends its session header: from the hash
 * ids alone, two single-turn requests behind one system prompt look like two turns of one
 * conversation.
 */
export function generateMixedTrace(options: MixedTraceOptions = {}): TraceRequest[] {
  const total = options.requests ?? 3000;
  const rate = options.ratePerSecond ?? 16;
  const singleShare = options.singleTurnShare ?? 0.7;
  const gapMs = options.turnGapMs ?? [2_000, 30_000];
  const random = mulberry32(options.seed ?? 1);
  let nextId = 0;
  const freshIds = (n: number) => Array.from({ length: n }, () => nextId++);
  const systems = Array.from(
    { length: options.systemPrompts ?? 6 },
    () => freshIds(1 + Math.floor(random() * 3)),
  );
  const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
  let sessions = 0;
  const request = (timestamp: number, ids: number[], session: number): TraceRequest => ({
    timestamp: Math.round(timestamp),
    input_length: ids.length * BLOCK_TOKENS - int(0, BLOCK_TOKENS - 1),
    output_length: int(16, 400),
    hash_ids: ids,
    session_id: `s${session}`,
  });
  const out: TraceRequest[] = [];
  // A conversation brings three requests on average, so sessions arrive more slowly than requests.
  const sessionRate = rate / (singleShare + (1 - singleShare) * 3);
  let clockMs = 0;
  while (out.length < total) {
    clockMs += (-Math.log(1 - random()) / sessionRate) * 1000;
    if (random() < singleShare) {
      const system = systems[int(0, systems.length - 1)]!;
      out.push(request(clockMs, [...system, ...freshIds(int(1, 8))], sessions++));
      continue;
    }
    // A short conversation: each turn repeats the history and adds a few blocks, some seconds apart.
    let history = freshIds(int(1, 4));
    let at = clockMs;
    const session = sessions++;
    for (let turn = int(2, 4); turn > 0 && out.length < total; turn--) {
      out.push(request(at, history, session));
      history = [...history, ...freshIds(int(1, 3))];
      at += int(gapMs[0], gapMs[1]);
    }
  }
  return out.sort((a, b) => a.timestamp - b.timestamp);
}
