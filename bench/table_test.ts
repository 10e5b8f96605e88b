import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { alignedTable } from "./table.ts";

Deno.test("alignedTable pads the first column on the right, the others on the left, to the widest cell", () => {
  assertEquals(alignedTable(["name", "n"], [["a", "100"], ["longer", "2"]]), [
    "name      n",
    "------  ---",
    "a       100",
    "longer    2",
  ]);
});
