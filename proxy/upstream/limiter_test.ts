import { deepStrictEqual as assertEquals, rejects } from "node:assert/strict";
import { Limiter } from "./limiter.ts";

Deno.test("Limiter hands freed slots to waiters first come first served, per key", async () => {
  const limiter = new Limiter(1);
  const never = new AbortController().signal;
  await limiter.acquire("a", never);
  await limiter.acquire("b", never);
  const order: number[] = [];
  const waiting = [1, 2, 3].map((i) => limiter.acquire("a", never).then(() => order.push(i)));
  assertEquals(limiter.usage("a"), { active: 1, waiting: 3 });
  for (let i = 0; i < 3; i++) limiter.release("a");
  await Promise.all(waiting);
  assertEquals(order, [1, 2, 3]);
  limiter.release("a");
  assertEquals([limiter.usage("a"), limiter.usage("b")], [
    { active: 0, waiting: 0 },
    { active: 1, waiting: 0 },
  ]);
});

Deno.test("Limiter drops a waiter whose signal aborts and never gives it a slot", async () => {
  const limiter = new Limiter(1);
  await limiter.acquire("a", new AbortController().signal);
  const leaving = new AbortController();
  const left = limiter.acquire("a", leaving.signal);
  const stays = limiter.acquire("a", new AbortController().signal);
  leaving.abort("client");
  await rejects(left, (error: Error) => error.name === "AbortError");
  limiter.release("a");
  await stays;
  assertEquals(limiter.usage("a"), { active: 1, waiting: 0 });
});
