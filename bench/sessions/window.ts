/** The naive baseline of the compaction target: a client-side window trimmed on every call. */

/** A chat message, as far as trimming needs to know. */
export interface WindowMessage {
  role: string;
}

/** The prompt one call sends, and how many messages of the history it left out. */
export interface Window<M extends WindowMessage> {
  messages: M[];
  dropped: number;
}

/** Options of {@linkcode trimWindow}. */
export interface TrimWindowOptions<M extends WindowMessage> {
  countMessage: (message: M) => number;
  /** Messages at the start of `history` left out whether or not they fit. @default 0 */
  minDropped?: number;
}

/**
 * The newest messages of `history` that fit in `windowTokens` after `system`, the oldest left out
 * first, one message at a time, and never fewer than `minDropped`. It never starts at a tool
 * result (whose call would be gone), and keeps the newest user message onward whatever it costs.
 */
export function trimWindow<M extends WindowMessage>(
  system: readonly M[],
  history: readonly M[],
  windowTokens: number,
  options: TrimWindowOptions<M>,
): Window<M> {
  const { countMessage } = options;
  const lastUser = history.findLastIndex((m) => m.role === "user");
  let tokens = 0;
  for (const m of system) tokens += countMessage(m);
  let start = history.length;
  for (let i = history.length - 1; i >= 0; i--) {
    const next = tokens + countMessage(history[i]!);
    if (next > windowTokens && (lastUser < 0 || i < lastUser)) break;
    tokens = next;
    start = i;
  }
  start = Math.max(start, Math.min(options.minDropped ?? 0, lastUser < 0 ? start : lastUser));
  while (start < history.length && start !== lastUser && history[start]!.role === "tool") start++;
  return { messages: [...system, ...history.slice(start)], dropped: start };
}
