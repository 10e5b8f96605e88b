/** The buffered answer: a small JSON body read whole, tapped for usage and written at once. */
import type { Attempt } from "./attempt.ts";
import { UsageTap } from "./usage_tap.ts";

/** OpenAI puts `usage` at the end of a JSON answer: only this tail is scanned for it. */
const USAGE_TAIL_BYTES = 4096;

/**
 * Answers with `answer`, the whole upstream body of `attempt`, and settles the request: one
 * write beats a chunk-by-chunk relay for a body of known, small size.
 */
export function bufferedAnswer(attempt: Attempt, answer: Uint8Array<ArrayBuffer>): Response {
  const doneAt = performance.now();
  const response = attempt.respond(answer);
  const tap = new UsageTap(false);
  tap.push(
    answer.byteLength > USAGE_TAIL_BYTES
      ? answer.subarray(answer.byteLength - USAGE_TAIL_BYTES)
      : answer,
  );
  attempt.settle({
    kind: "done",
    message: "",
    firstByteAt: undefined,
    relayMs: performance.now() - doneAt,
    usage: tap.result(),
  }, doneAt);
  return response;
}
