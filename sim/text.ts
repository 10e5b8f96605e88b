/**
 * Deterministic output text: the same seed always yields the same tokens. Every token is 4
 * characters and one Llama 3 token, so the text a client sends back in its next turn tokenizes
 * (exactly, or at 4 characters a token) to the very tokens generated, as the prefix cache needs.
 */

/** Words that open a chat answer: each one Llama 3 token, 4 characters, no leading space. */
const OPENERS = [
  "When",
  "This",
  "Each",
  "Next",
  "Then",
  "Only",
  "Most",
  "Some",
  "Here",
  "That",
  "Also",
  "Both",
  "Just",
  "Many",
  "Once",
  "With",
] as const;

/** Words after the first: each one Llama 3 token of 4 characters, leading space included. */
const WORDS = [
  " the",
  " and",
  " for",
  " can",
  " may",
  " all",
  " any",
  " one",
  " two",
  " top",
  " end",
  " few",
  " big",
  " low",
  " raw",
  " row",
  " sum",
  " max",
  " min",
  " key",
  " log",
  " map",
  " new",
  " old",
  " run",
  " set",
  " use",
  " way",
  " job",
  " hit",
  " gpu",
  " ram",
  " put",
  " get",
  " add",
  " not",
  " yet",
  " now",
  " due",
  " per",
  " via",
  " too",
  " who",
  " why",
  " how",
  " its",
  " our",
  " out",
  " own",
  " see",
  " say",
  " try",
  " ask",
  " let",
  " fit",
  " win",
  " bit",
  " hot",
  " net",
  " web",
  " app",
  " api",
  " tag",
  " act",
] as const;

/** A 32-bit mix of two integers (splitmix-like), for picking words. */
export function mix32(a: number, b: number): number {
  let h = (a ^ Math.imul(b + 0x9e3779b9, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Options of {@linkcode tokenText}. */
export interface TokenTextOptions {
  /**
   * Token 0 opens a chat answer: a capitalised word with no leading space (after the template's
   * "\n\n"). A completion continues its prompt, so its first token has a leading space too.
   * @default true
   */
  opensAnswer?: boolean;
}

/** The text of output token `index` for `seed`: one 4-character word. */
export function tokenText(seed: number, index: number, options: TokenTextOptions = {}): string {
  const pick = mix32(seed, index);
  if (index === 0 && options.opensAnswer !== false) return OPENERS[pick % OPENERS.length]!;
  return WORDS[pick % WORDS.length]!;
}

/** The texts of output tokens 0 to `count - 1` for `seed`. */
export function outputPieces(
  seed: number,
  count: number,
  options: TokenTextOptions = {},
): string[] {
  const pieces = new Array<string>(count);
  for (let i = 0; i < count; i++) pieces[i] = tokenText(seed, i, options);
  return pieces;
}

/** A natural output length for a request with no max_tokens, from 16 to 271 tokens. */
export function naturalLength(seed: number): number {
  return 16 + (mix32(seed, 0x5eed) % 256);
}
