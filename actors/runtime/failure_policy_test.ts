import assert from "node:assert/strict";
import { AskEnvelope, DurableDelivery } from "./envelopes.ts";
import { ActorFailedError } from "./errors.ts";
import { settleFailedTurn } from "./failure_policy.ts";

Deno.test("settleFailedTurn() fails an ask and crashes the actor", async () => {
  const answer = new Promise((resolve, reject) => {
    const ask = new AskEnvelope({ type: "q" }, resolve, reject);
    assert.deepEqual(settleFailedTurn("k/1", ask, new Error("boom"), undefined), {
      kind: "crash",
    });
  });
  await assert.rejects(answer, ActorFailedError);
});

Deno.test("settleFailedTurn() hands every failing durable delivery back and carries on", () => {
  const settled: (Error | undefined)[] = [];
  const delivery = (id: string) => new DurableDelivery(id, {}, (e) => void settled.push(e));
  const first = delivery("m1");
  const after = settleFailedTurn("k/1", first, new Error("boom"), [first, delivery("m2")]);
  assert.deepEqual(after, { kind: "carry_on", messageIds: ["m1", "m2"] });
  assert.equal(settled.length, 2);
  assert.ok(settled.every((e) => e instanceof ActorFailedError), "each goes back for a retry");
});

Deno.test("settleFailedTurn() crashes the actor for a failed tell", () => {
  assert.deepEqual(settleFailedTurn("k/1", { type: "t" }, new Error("boom"), undefined), {
    kind: "crash",
  });
});
