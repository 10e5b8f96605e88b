import assert from "node:assert/strict";
import { Fifo } from "./queue.ts";

Deno.test("Fifo keeps order across compaction", () => {
  const q = new Fifo<number>();
  const out: number[] = [];
  for (let i = 0; i < 20_000; i++) {
    q.push(i);
    if (i % 3 === 0) out.push(q.shift());
  }
  while (q.length > 0) out.push(q.shift());
  assert.deepEqual(out, Array.from({ length: 20_000 }, (_, i) => i));
});

Deno.test("Fifo.drain() hands back what waits and empties the queue", () => {
  const q = new Fifo<string>();
  q.push("a");
  q.push("b");
  q.shift();
  q.push("c");
  assert.deepEqual(q.drain(), ["b", "c"]);
  assert.equal(q.length, 0);
});
