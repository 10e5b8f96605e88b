import { assert, assertEquals } from "./_assert.ts";
import { parseTrace, traceBlockHashes, traceBlockText, tracePromptText } from "./trace.ts";
import { approxTokenizer } from "./tokens.ts";

const LINES = [
  '{"timestamp": 0, "input_length": 1100, "output_length": 3, "hash_ids": [1, 2, 3]}',
  '{"timestamp": 10, "input_length": 1600, "output_length": 2, "hash_ids": [1, 2, 4, 5]}',
].join("\n");

Deno.test("parseTrace() reads JSON lines and names a bad line", () => {
  assertEquals(parseTrace(LINES + "\n").length, 2);
  let message = "";
  try {
    parseTrace(LINES + '\n{"timestamp": 1}');
  } catch (e) {
    message = (e as Error).message;
  }
  assert(message.includes("line 3"), message);
});

Deno.test("requests sharing leading hash ids share block hashes and prompt text", () => {
  const [a, b] = parseTrace(LINES);
  assertEquals(traceBlockHashes(a!).length, 2);
  assertEquals(traceBlockHashes(a!), traceBlockHashes(b!).slice(0, 2));
  assertEquals(traceBlockText(7).length, 2048);
  assertEquals(traceBlockText(7), traceBlockText(7));
  const textA = tracePromptText(a!);
  const textB = tracePromptText(b!);
  assertEquals(textA.length, 1100 * 4);
  assertEquals(textA.slice(0, 4096), textB.slice(0, 4096));
  assertEquals(
    approxTokenizer.tokenize(textA).blockHashes,
    approxTokenizer.tokenize(textB).blockHashes.slice(0, 2),
  );
});
