import { assert, assertEquals, assertGreater } from "./_assert.ts";
import { RealClock, VirtualClock } from "./clock.ts";

Deno.test("a virtual clock fires timers in time order, ties in scheduling order", () => {
  const clock = new VirtualClock();
  const fired: string[] = [];
  clock.at(20, () => fired.push("b"));
  clock.at(10, () => fired.push("a"));
  clock.at(20, () => fired.push("c"));
  const cancelled = clock.at(15, () => fired.push("x"));
  cancelled.cancel();
  clock.advanceTo(19);
  assertEquals(fired, ["a"]);
  assertEquals(clock.now(), 19);
  clock.runUntilIdle();
  assertEquals(fired, ["a", "b", "c"]);
  assertEquals(clock.pending, 0);
});

Deno.test("a real clock with time scale 100 runs simulated time 100 times faster than real time", async () => {
  const clock = new RealClock({ timeScale: 100 });
  const realStart = performance.now();
  const simStart = clock.now();
  const fired = await new Promise<{ simMs: number; realMs: number }>((resolve) =>
    clock.at(simStart + 2000, () => resolve({ simMs: clock.now(), realMs: performance.now() }))
  );
  const simElapsed = fired.simMs - simStart;
  const realElapsed = fired.realMs - realStart;
  // A timer never fires early: 2,000 simulated ms are at least 20 real ms. How late it fires
  // depends on the machine's load, so only the ratio of the two time lines is checked.
  assertGreater(simElapsed, 1999);
  assertGreater(realElapsed, 19);
  assert(
    Math.abs(simElapsed / 100 - realElapsed) < 1,
    "simulated time is real time times the scale",
  );
});

Deno.test("a real clock rejects a time scale that is not positive", () => {
  let error: unknown;
  try {
    new RealClock({ timeScale: 0 });
  } catch (e) {
    error = e;
  }
  assert(error instanceof RangeError);
});
