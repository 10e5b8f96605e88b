import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { concatBytes } from "./bytes.ts";

Deno.test("concatBytes joins parts in order, with or without their total size", () => {
  const parts = [new Uint8Array([1, 2]), new Uint8Array([]), new Uint8Array([3])];
  assertEquals([...concatBytes(parts)], [1, 2, 3]);
  assertEquals([...concatBytes(parts, 3)], [1, 2, 3]);
  assertEquals(concatBytes([]).byteLength, 0);
});
