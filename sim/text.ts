/** Deterministic output text: the same seed always yields the same tokens. */

const WORDS = [
  "the",
  "model",
  "router",
  "cache",
  "prefix",
  "token",
  "replica",
  "batch",
  "agent",
  "session",
  "request",
  "stream",
  "latency",
  "queue",
  "block",
  "memory",
  "kernel",
  "step",
  "decode",
  "prefill",
  "a",
  "of",
  "and",
  "to",
  "in",
  "is",
  "that",
  "for",
  "on",
  "with",
  "as",
  "it",
  "this",
  "we",
  "can",
  "be",
  "when",
  "each",
  "more",
  "time",
  "first",
  "next",
  "load",
  "fast",
  "slow",
  "warm",
  "cold",
  "hit",
  "miss",
  "turn",
  "reply",
  "tool",
  "plan",
  "result",
  "value",
  "score",
  "path",
  "node",
  "job",
  "gpu",
  "shard",
  "state",
  "actor",
  "message",
] as const;

/** A 32-bit mix of two integers (splitmix-like), for picking words. */
export function mix32(a: number, b: number): number {
  let h = (a ^ Math.imul(b + 0x9e3779b9, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

/** The text of output token `index` for `seed`: one word with a leading space. */
export function tokenText(seed: number, index: number): string {
  const word = WORDS[mix32(seed, index) % WORDS.length]!;
  return index === 0 ? word[0]!.toUpperCase() + word.slice(1) : " " + word;
}

/** A natural output length for a request with no max_tokens, from 16 to 271 tokens. */
export function naturalLength(seed: number): number {
  return 16 + (mix32(seed, 0x5eed) % 256);
}
