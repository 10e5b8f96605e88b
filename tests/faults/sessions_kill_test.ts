/**
 * kill -9 of the gateway under session load: several sessions take turns at once on a real
 * `main.ts serve`, the process is killed at a random moment and restarted on its KV file, and
 * every turn whose answer a client fully received is in its session's history, once and in order.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { APIError } from "openai";
import { seeded } from "../../actors/runtime/testdata/seed.ts";
import {
  type GatewayProcess,
  MODEL,
  sleep,
  streamTurn,
  textOf,
  withCluster,
} from "../sessions_testing.ts";

/** A turn whose answer came whole: its JSON reply, or its stream up to `[DONE]`. */
interface Acked {
  content: string;
  reply: string;
}

/** Takes turns of one session until one fails; keeps the acknowledged ones. */
async function drive(
  gateway: GatewayProcess,
  id: string,
  random: () => number,
  acked: Acked[],
  stop: AbortSignal,
): Promise<void> {
  const client = gateway.client(id);
  for (let n = 1; !stop.aborted; n++) {
    const content = `session ${id.slice(-6)} turn ${acked.length + 1}.${n}`;
    const body = {
      messages: [{ role: "user" as const, content }],
      max_tokens: 10 + Math.floor(random() * 60),
    };
    try {
      if (random() < 0.5) {
        const got = await streamTurn(client, body);
        if (!got.done) return;
        acked.push({ content, reply: got.text });
      } else {
        const answer = await client.chat.completions.create({ model: MODEL, ...body });
        acked.push({ content, reply: answer.choices[0]?.message.content ?? "" });
      }
    } catch {
      return;
    }
  }
}

/** One turn after the restart, waiting while the dead process's claim keeps the session busy. */
async function turnAfterRestart(gateway: GatewayProcess, id: string): Promise<Acked> {
  const content = `session ${id.slice(-6)} after the restart`;
  const started = Date.now();
  for (;;) {
    try {
      const answer = await gateway.client(id).chat.completions.create({
        model: MODEL,
        messages: [{ role: "user", content }],
        max_tokens: 10,
      });
      return { content, reply: answer.choices[0]?.message.content ?? "" };
    } catch (error) {
      const busy = error instanceof APIError && error.status === 409;
      if (!busy || Date.now() - started > 20_000) throw error;
      await sleep(200);
    }
  }
}

Deno.test(
  "kill -9 of the gateway while several sessions take turns loses no acknowledged turn",
  seeded(async ({ random }) => {
    await withCluster({ replicas: 2 }, async (cluster) => {
      let gateway = await cluster.start("gateway under load");
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push(await gateway.createSession());
      const acked = new Map(ids.map((id) => [id, [] as Acked[]]));
      const stop = new AbortController();
      const drivers = ids.map((id) => drive(gateway, id, random, acked.get(id)!, stop.signal));
      await sleep(1_000 + random() * 2_000);
      await gateway.kill();
      stop.abort();
      await Promise.all(drivers);
      const total = [...acked.values()].reduce((n, a) => n + a.length, 0);
      assert(total >= ids.length, `only ${total} turns were acknowledged before the kill`);

      gateway = await cluster.start("gateway after the kill");
      for (const id of ids) acked.get(id)!.push(await turnAfterRestart(gateway, id));
      for (const id of ids) {
        const turns = await gateway.history(id);
        assertEquals(turns.map((t) => t.turn), turns.map((_, i) => i + 1), `turns of ${id}`);
        const kept = turns.map((t) => [textOf(t.input[0]?.content), textOf(t.output[0]?.content)]);
        const contents = kept.map(([input]) => input);
        assertEquals(new Set(contents).size, contents.length, `no turn of ${id} is kept twice`);
        // Every acknowledged turn, with the reply the client got, in the order it was taken; at
        // most one more (the turn the kill cut between its commit and its answer).
        const ackedHere = acked.get(id)!;
        const found = kept.filter(([input]) => ackedHere.some((a) => a.content === input));
        assertEquals(
          found,
          ackedHere.map((a) => [a.content, a.reply]),
          `acknowledged turns of ${id}`,
        );
        assert(kept.length - found.length <= 1, `${kept.length - found.length} unacknowledged`);
      }
      console.log(`${total} turns acknowledged across ${ids.length} sessions before the kill`);
    });
  }),
);
