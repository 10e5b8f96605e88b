/** Reading a child process's output in tests: until a pattern shows, within a deadline. */

/**
 * Reads `reader` until the text so far matches `pattern` and answers that text; throws, with what
 * was printed, when the stream ends first or `timeoutMs` passes.
 */
export async function readUntil(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  pattern: RegExp,
  timeoutMs: number,
): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`serve did not print ${pattern} in time; it printed:\n${text}`)),
      timeoutMs,
    );
  });
  try {
    while (!pattern.test(text)) {
      const { done, value } = await Promise.race([reader.read(), timeout]);
      if (done) throw new Error(`serve exited; it printed:\n${text}`);
      text += decoder.decode(value);
    }
    return text;
  } finally {
    clearTimeout(timer);
  }
}
