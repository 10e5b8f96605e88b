/**
 * Durable sessions across gateway processes: `main.ts serve` killed with SIGKILL mid-turn and
 * restarted on its KV file, TTL timers that outlive the process that set them, two gateways on
 * one KV file taking turns of one session, and a cancel sent to the gateway that does not run
 * the turn.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { APIError } from "openai";
import { retryKvBusy } from "../actors/runtime/mod.ts";
import { seeded } from "../actors/runtime/testdata/seed.ts";
import {
  type GatewayProcess,
  MODEL,
  sleep,
  streamTurn,
  SYSTEM,
  textOf,
  type TurnView,
  waitFor,
  withCluster,
} from "./sessions_testing.ts";

/** A turn the gateway acknowledged: its JSON reply came, or its stream's `[DONE]`. */
interface Acked {
  content: string;
  reply: string;
  stream: boolean;
}

/** Takes turns of one session one after another until one fails (its gateway was killed). */
class Driver {
  readonly acked: Acked[] = [];
  /** Turns sent, acknowledged or not. */
  sent = 0;
  #midStream = Promise.withResolvers<void>();

  constructor(readonly id: string, readonly random: () => number) {}

  /** Resolves once a streamed turn has had some text but not its end. */
  midStream(): Promise<void> {
    this.#midStream = Promise.withResolvers<void>();
    return this.#midStream.promise;
  }

  /** Runs turns on `gateway` until one fails (resolving to that failure) or `turns` are done. */
  async run(gateway: GatewayProcess, turns = Infinity): Promise<unknown> {
    const client = gateway.client(this.id);
    for (let n = 0; n < turns; n++) {
      const content = `turn number ${++this.sent}`;
      const stream = this.random() < 0.5;
      const body = {
        messages: [{ role: "user" as const, content }],
        max_tokens: 10 + Math.floor(this.random() * 70),
      };
      try {
        if (stream) {
          const got = await streamTurn(client, body, () => this.#midStream.resolve());
          if (!got.done) return new Error(`stream of "${content}" ended without [DONE]`);
          this.acked.push({ content, reply: got.text, stream });
        } else {
          const answer = await client.chat.completions.create({ model: MODEL, ...body });
          this.acked.push({ content, reply: answer.choices[0]?.message.content ?? "", stream });
        }
      } catch (error) {
        return error;
      }
    }
    return undefined;
  }

  /**
   * One turn on a gateway just (re)started: the dead process's claim may hold the session for
   * up to its heartbeat's lifetime. Returns how long the session stayed blocked, in ms.
   */
  async takeOver(gateway: GatewayProcess, timeoutMs: number): Promise<number> {
    const started = Date.now();
    const content = `turn number ${++this.sent}`;
    const answer = await whenFree(() =>
      gateway.client(this.id).chat.completions.create({
        model: MODEL,
        messages: [{ role: "user", content }],
        max_tokens: 10,
      }), timeoutMs);
    this.acked.push({ content, reply: answer.choices[0]?.message.content ?? "", stream: false });
    return Date.now() - started;
  }
}

/**
 * Runs `turn` again while the gateway answers 409 `session_busy`, as a turn on a session whose
 * claim a killed gateway left behind is answered until that gateway's heartbeat lapses.
 */
async function whenFree<T>(turn: () => Promise<T>, timeoutMs: number): Promise<T> {
  const started = Date.now();
  for (;;) {
    try {
      return await turn();
    } catch (error) {
      const busy = error instanceof APIError && error.status === 409 &&
        error.code === "session_busy";
      if (!busy) throw error;
      if (Date.now() - started > timeoutMs) {
        throw new Error(`The session stayed busy for ${timeoutMs} ms: ${error}`);
      }
      await sleep(200);
    }
  }
}

/**
 * Checks that each turn's prompt held the system prompt and every turn before it (there is no
 * compaction): both the prompt the history rebuilds and the size of the one the gateway that ran
 * the turn built and sent.
 */
function assertPromptChain(turns: TurnView[]): void {
  for (const [i, turn] of turns.entries()) {
    const expected = [
      { role: "system", content: SYSTEM },
      ...turns.slice(0, i).flatMap((t) => [...t.input, ...t.output]),
      ...turn.input,
    ];
    assertEquals(turn.sent.prompt, expected, `the prompt of turn ${turn.turn}`);
    assertEquals(turn.sent.messages, expected.length, `messages sent in turn ${turn.turn}`);
  }
}

Deno.test(
  "every acknowledged turn survives kill -9 of the gateway mid-turn, once and in order",
  seeded(async ({ random }) => {
    await withCluster({}, async (cluster) => {
      let gateway = await cluster.start("first gateway");
      const id = await gateway.createSession();
      const driver = new Driver(id, random);
      const kills = 3;
      const blocked: number[] = [];
      for (let round = 0; round < kills; round++) {
        const mid = driver.midStream();
        const running = driver.run(gateway);
        // One kill lands inside a stream for sure; the others at a random moment of a turn.
        const moment = round === 1 ? mid : sleep(800 + random() * 1700);
        const early = await Promise.race([moment.then(() => undefined), running]);
        if (early !== undefined) throw new Error(`A turn failed before the kill: ${early}`);
        await gateway.kill();
        assert(await running, "the driver stopped on a failed turn");
        gateway = await cluster.start(`gateway after kill ${round + 1}`);
        if (round === 1) {
          // A turn is claimed in KV only while another process's heartbeat is fresh (here, the
          // process killed before, for a few seconds after): a claim left by the dead process is
          // for the next turn, and holds while its heartbeat is fresh; an unclaimed turn leaves
          // nothing behind.
          const view = await gateway.call("GET", `/v1/sessions/${id}`);
          const left = view.body.turn_in_flight;
          assert(left === null || left === (view.body.turns as number) + 1, `claim ${left}`);
        }
        blocked.push(await driver.takeOver(gateway, 20_000));
      }
      const failed = await driver.run(gateway, 5);
      assertEquals(failed, undefined, "turns after the last restart");
      const streamed = driver.acked.filter((a) => a.stream).length;
      console.log(
        `${driver.acked.length} turns acknowledged (${streamed} streamed); the session was ` +
          `blocked after each restart for ${blocked.join(", ")} ms`,
      );
      assert(driver.acked.length >= kills * 3, `${driver.acked.length} turns acknowledged`);

      const turns = await gateway.history(id, "sent");
      assertEquals(turns.map((t) => t.turn), turns.map((_, i) => i + 1), "turns 1..n, no gap");
      const inputs = turns.map((t) => textOf(t.input[0]?.content));
      assertEquals(new Set(inputs).size, inputs.length, "no turn is kept twice");
      assert(turns.every((t) => t.status === "completed"));
      // The acknowledged turns, in order; the others are turns whose commit a kill beat the ack to.
      const acked = turns.filter((t) =>
        driver.acked.some((a) => a.content === textOf(t.input[0]?.content))
      );
      assertEquals(
        acked.map((t) => [textOf(t.input[0]?.content), textOf(t.output[0]?.content)]),
        driver.acked.map((a) => [a.content, a.reply]),
      );
      assert(turns.length - acked.length <= kills, "at most one unacknowledged turn per kill");
      // Sent numbers only go up: a turn sent later never sits before one sent earlier.
      const order = inputs.map((text) => Number(/\d+$/.exec(text)![0]));
      assertEquals(order, order.toSorted((a, b) => a - b));
      // Each prompt is built from every turn kept before it, across the restarts.
      assertPromptChain(turns);
      const head = await gateway.call("GET", `/v1/sessions/${id}`);
      assertEquals([head.body.turns, head.body.turn_in_flight], [turns.length, null]);
    });
  }),
);

/** The active-session counter in the KV file of `stateDir`. */
async function activeCount(stateDir: string): Promise<number> {
  // The gateway writes the file meanwhile, and SQLite may refuse this process a moment.
  return await retryKvBusy(async () => {
    const kv = await Deno.openKv(`${stateDir}/turnpike.kv`);
    try {
      const value = (await kv.get(["session_active"])).value;
      return value instanceof Deno.KvU64 ? Number(value.value) : 0;
    } finally {
      kv.close();
    }
  });
}

/** Moves the expiry of session `id` in the KV file of `stateDir` (no gateway may run on it). */
async function setExpiry(stateDir: string, id: string, expiresAtMs: number): Promise<void> {
  const kv = await Deno.openKv(`${stateDir}/turnpike.kv`);
  try {
    const head = await kv.get<Record<string, unknown>>(["session", id]);
    assert(head.value, `session ${id} is in KV`);
    await kv.set(head.key, { ...head.value, expires_at_ms: expiresAtMs });
  } finally {
    kv.close();
  }
}

/** The refusal of a turn of session `id`. */
async function refusedTurn(gateway: GatewayProcess, id: string): Promise<APIError> {
  const error = await gateway.client(id).chat.completions.create({
    model: MODEL,
    messages: [{ role: "user", content: "still there?" }],
    max_tokens: 5,
  }).then(() => undefined, (error) => error);
  assert(error instanceof APIError, `a turn of session ${id} is refused: ${error}`);
  return error;
}

for (const onExpire of ["delete", "archive"] as const) {
  Deno.test(`a session's TTL timer set before a kill -9 fires once after the restart (on_expire ${onExpire})`, async () => {
    await withCluster({ sessions: { on_expire: onExpire } }, async (cluster) => {
      const first = await cluster.start("first gateway");
      const created = Date.now();
      const id = await first.createSession({ ttl_seconds: 3 });
      const kept = await first.createSession({ ttl_seconds: 3600 });
      const late = await first.createSession({ ttl_seconds: 3600 });
      const turn = await first.client(id).chat.completions.create({
        model: MODEL,
        messages: [{ role: "user", content: "remember me" }],
        max_tokens: 5,
      });
      await first.kill();
      assert(Date.now() < created + 3_000, "the gateway died before the session's TTL passed");
      assertEquals(await activeCount(cluster.stateDir), 3);
      // `late` passes its TTL while its timer is still an hour away: a timer that comes late.
      await setExpiry(cluster.stateDir, late, Date.now() - 1_000);
      await sleep(Math.max(0, created + 3_500 - Date.now()));
      const second = await cluster.start("restarted gateway");
      await waitFor(
        "the expiry timer to fire",
        async () => (await activeCount(cluster.stateDir)) === 2,
        { timeoutMs: 15_000, everyMs: 100 },
      );
      const gone = await second.call("GET", `/v1/sessions/${id}`);
      const refused = await refusedTurn(second, id);
      if (onExpire === "delete") {
        assertEquals([gone.status, gone.code], [404, "session_not_found"]);
        assertEquals([refused.status, refused.code], [404, "session_not_found"]);
        assertEquals((await second.call("GET", `/v1/sessions/${id}/history`)).status, 404);
      } else {
        assertEquals([gone.status, gone.body.state, gone.body.turns], [200, "expired", 1]);
        assertEquals([refused.status, refused.code], [410, "session_expired"]);
        assert(/expired at .* archived read-only/.test(refused.message), refused.message);
        const history = await second.history(id);
        assertEquals(history.map((t) => textOf(t.output[0]?.content)), [
          turn.choices[0]!.message.content,
        ]);
      }
      // Past its TTL, `late` reads as expired too, though its timer has not fired.
      const lateView = await second.call("GET", `/v1/sessions/${late}`);
      const lateRefused = await refusedTurn(second, late);
      if (onExpire === "delete") {
        assertEquals([lateView.status, lateView.code], [404, "session_expired"]);
        assertEquals([lateRefused.status, lateRefused.code], [404, "session_not_found"]);
      } else {
        assertEquals([lateView.status, lateView.body.state], [200, "expired"]);
        assertEquals([lateRefused.status, lateRefused.code], [410, "session_expired"]);
      }
      // The other session lives on, and each expiry left the counter once.
      assertEquals((await second.call("GET", `/v1/sessions/${kept}`)).body.state, "active");
      await sleep(500);
      assertEquals(await activeCount(cluster.stateDir), 1);
    });
  });
}

Deno.test("two gateways on one KV file take turns of one session and see each other's turns", async () => {
  await withCluster({}, async (cluster) => {
    const a = await cluster.start("gateway A");
    const b = await cluster.start("gateway B");
    const id = await a.createSession();
    for (let i = 1; i <= 4; i++) {
      const gateway = i % 2 === 1 ? a : b;
      const answer = await gateway.client(id).chat.completions.create({
        model: MODEL,
        messages: [{ role: "user", content: `turn ${i} on ${gateway.label}` }],
        max_tokens: 8,
      });
      assertEquals(answer.choices[0]!.finish_reason, "length");
    }
    // Each turn's prompt, built by whichever gateway ran it, holds every turn before it.
    for (const reader of [a, b]) {
      const turns = await reader.history(id, "sent");
      assertEquals(turns.map((t) => textOf(t.input[0]?.content)), [
        "turn 1 on gateway A",
        "turn 2 on gateway B",
        "turn 3 on gateway A",
        "turn 4 on gateway B",
      ]);
      assertPromptChain(turns);
    }

    // A turn on B while A runs one is refused, and the session is not left claimed by it.
    const long = a.client(id);
    let refused: unknown;
    const first = await streamTurn(long, {
      messages: [{ role: "user", content: "a long one on A" }],
      max_tokens: 300,
    }, () => {
      refused ??= b.client(id).chat.completions.create({
        model: MODEL,
        messages: [{ role: "user", content: "meanwhile on B" }],
        max_tokens: 5,
      }).then(() => "accepted", (error) => error);
    });
    assert(first.done);
    const error = await refused;
    assert(error instanceof APIError, String(error));
    assertEquals([error.status, error.code], [409, "session_busy"]);
    assertEquals(error.headers?.get("retry-after"), "1");
    const after = await b.client(id).chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "now on B" }],
      max_tokens: 5,
    });
    assert(after.choices[0]!.message.content);
    assertEquals((await b.history(id)).length, 6);

    // With on_busy queue, B's turn waits for A's and then goes on from it.
    const queued = await b.createSession({ on_busy: "queue" });
    let waiting: Promise<string> | undefined;
    const running = await streamTurn(a.client(queued), {
      messages: [{ role: "user", content: "first, on A" }],
      max_tokens: 300,
    }, () => {
      waiting ??= b.client(queued).chat.completions.create({
        model: MODEL,
        messages: [{ role: "user", content: "second, on B" }],
        max_tokens: 5,
      }).then((answer) => answer.choices[0]!.message.content ?? "");
    });
    assert(running.done);
    assert(await waiting);
    const turns = await a.history(queued, "sent");
    assertEquals(turns.map((t) => textOf(t.input[0]?.content)), ["first, on A", "second, on B"]);
    assertPromptChain(turns);
    assertEquals(textOf(turns[0]!.output[0]?.content), running.text);
  });
});

Deno.test("a cancel sent to gateway B stops a turn streaming on gateway A and keeps its partial reply", async () => {
  await withCluster({}, async (cluster) => {
    const a = await cluster.start("gateway A");
    const b = await cluster.start("gateway B");
    const id = await a.createSession();
    let cancel: Promise<{ status: number; body: Record<string, unknown> }> | undefined;
    let seen = "";
    let textAtCancel = "";
    const got = await streamTurn(a.client(id), {
      messages: [{ role: "user", content: "write a long story" }],
      max_tokens: 2000,
    }, (piece) => {
      seen += piece;
      if (cancel) return;
      textAtCancel = seen;
      cancel = b.call("POST", `/v1/sessions/${id}/cancel`);
    });
    const answered = await cancel!;
    assertEquals([answered.status, answered.body], [200, {
      id,
      object: "session.cancel",
      turn: 1,
      cancelled: true,
    }]);
    assert(got.done, "the stream ends with [DONE] once the cancelled turn is kept");
    assertEquals(got.finishReason, "cancelled");
    assert(got.text.startsWith(textAtCancel) && textAtCancel !== "");
    assert(got.text.split(" ").length < 1500, "the replica's generation was stopped early");
    for (const reader of [a, b]) {
      const turns = await reader.history(id);
      assertEquals(turns.map((t) => [t.turn, t.status, t.finish_reason]), [[
        1,
        "cancelled",
        "cancelled",
      ]]);
      assertEquals(turns[0]!.output, [{ role: "assistant", content: got.text }]);
    }
    // Nothing runs now: the session takes the next turn, on either gateway, from the partial reply.
    assertEquals((await b.call("POST", `/v1/sessions/${id}/cancel`)).body.cancelled, false);
    await b.client(id).chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "shorter please" }],
      max_tokens: 3,
    });
    const turns = await a.history(id, "sent");
    assertPromptChain(turns);
  });
});

Deno.test("a cancel aimed at a killed gateway's turn does not cancel the turn that takes its place", async () => {
  await withCluster({}, async (cluster) => {
    const a = await cluster.start("gateway A");
    const b = await cluster.start("gateway B");
    const id = await a.createSession();
    const started = Promise.withResolvers<void>();
    const dying = streamTurn(a.client(id), {
      messages: [{ role: "user", content: "write a long story" }],
      max_tokens: 2000,
    }, () => started.resolve()).catch((error) => error);
    await started.promise;
    await a.kill();
    assert(!(await dying).done, "the killed gateway acknowledged nothing");
    // A's heartbeat is still fresh: B cannot tell it died, and passes the cancel on through KV.
    const cancel = await b.call("POST", `/v1/sessions/${id}/cancel`);
    assertEquals([cancel.status, cancel.body.turn], [200, 1]);
    // Once A's claim lapses, B runs turn 1 anew; the cancel was for A's try at it, not this one.
    const retaken = await whenFree(
      () =>
        streamTurn(b.client(id), {
          messages: [{ role: "user", content: "a short story then" }],
          max_tokens: 150,
        }),
      20_000,
    );
    assert(retaken.done);
    assertEquals(retaken.finishReason, "length");
    const turns = await b.history(id);
    assertEquals(turns.map((t) => [t.turn, t.status, textOf(t.input[0]?.content)]), [
      [1, "completed", "a short story then"],
    ]);
  });
});
