import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { parseKeys } from "./keys.ts";

Deno.test("parseKeys() reads Tab, j/k, arrows, Enter and the quit keys", () => {
  assertEquals(parseKeys("\tjk\x1b[A\x1b[B\r\x1b[Zq"), [
    "tab",
    "down",
    "up",
    "up",
    "down",
    "enter",
    "backtab",
    "quit",
  ]);
  assertEquals(parseKeys("\x03"), ["quit"]);
  assertEquals(parseKeys("\x1bOA\x1bOB"), ["up", "down"]);
});

Deno.test("parseKeys() takes a lone ESC for Esc and skips sequences it does not use", () => {
  assertEquals(parseKeys("\x1b"), ["quit"]);
  assertEquals(parseKeys("\x1b[1;5Cj\x1b[15~k"), ["down", "up"]);
  assertEquals(parseKeys("xyz"), []);
});
