import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { Deadlines } from "./deadlines.ts";

type Interval = ReturnType<typeof setInterval>;

/** Counts the intervals alive (set and not cleared) while `body` runs; any left are cleared after. */
async function withIntervals(body: (live: Set<Interval>) => Promise<void>): Promise<void> {
  const live = new Set<Interval>();
  const set = globalThis.setInterval;
  const clear = globalThis.clearInterval;
  globalThis.setInterval = ((handler: () => void, ms?: number) => {
    const id = set(handler, ms);
    live.add(id);
    return id;
  }) as typeof setInterval;
  globalThis.clearInterval = ((id?: Interval) => {
    if (id !== undefined) live.delete(id);
    clear(id);
  }) as typeof clearInterval;
  try {
    await body(live);
  } finally {
    globalThis.setInterval = set;
    globalThis.clearInterval = clear;
    for (const id of live) clear(id);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

Deno.test("Deadlines fires a due deadline once, and neither a removed nor a later one", async () => {
  const deadlines = new Deadlines({ tickMs: 5 });
  const fired: string[] = [];
  deadlines.add(10, () => fired.push("a"));
  const b = deadlines.add(10, () => fired.push("b"));
  deadlines.add(10_000, () => fired.push("late"));
  deadlines.remove(b);
  await sleep(60);
  assertEquals([fired, deadlines.size], [["a"], 1]);
  deadlines.clear();
  assertEquals(deadlines.size, 0);
});

Deno.test("Deadlines runs one timer while deadlines are pending and stops it at the next tick with none", async () => {
  await withIntervals(async (live) => {
    const deadlines = new Deadlines({ tickMs: 5 });
    const first = deadlines.add(10_000, () => {});
    const second = deadlines.add(10_000, () => {});
    assertEquals(live.size, 1);
    deadlines.remove(first);
    deadlines.remove(second);
    await sleep(30);
    assertEquals([live.size, deadlines.size], [0, 0]);
    // Once its last deadline fires, it stops too; a new deadline starts it again.
    const fired: string[] = [];
    deadlines.add(10, () => fired.push("due"));
    assertEquals(live.size, 1);
    await sleep(60);
    assertEquals([fired, live.size], [["due"], 0]);
  });
});

Deno.test("Deadlines.clear() forgets every deadline and stops the timer at once", async () => {
  await withIntervals(async (live) => {
    const deadlines = new Deadlines({ tickMs: 5 });
    const fired: string[] = [];
    deadlines.add(10, () => fired.push("cleared"));
    deadlines.clear();
    assertEquals([live.size, deadlines.size], [0, 0]);
    await sleep(30);
    assertEquals(fired, []);
  });
});
