/**
 * The peers' routing policies (sglang_cache_aware, llmd_default, consistent_hash) chosen in the
 * config and driven through the gateway with the OpenAI SDK, over simulated replicas.
 */
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { chat, MODEL, startRig, type TestRig } from "../gateway/testing.ts";
import { HashRing } from "../actors/router/strategies/consistent_hash.ts";
import { backendOf } from "./routing_testing.ts";

/** Five conversations of three turns, each turn resending the history (round robin would move them): replica per conversation and turn. */
async function conversations(rig: TestRig): Promise<string[][]> {
  const contexts = Array.from(
    { length: 5 },
    (_, i) => `Conversation ${i}: ` + `agent ${i} read a file and got this output. `.repeat(40),
  );
  const seen: string[][] = contexts.map(() => []);
  for (let turn = 0; turn < 3; turn++) {
    for (let i = 0; i < contexts.length; i++) {
      const history = contexts[i]! + " then follow-up".repeat(turn);
      seen[i]!.push(await backendOf(rig, chat(history, { max_tokens: 4 })));
    }
  }
  return seen;
}

for (const strategy of ["sglang_cache_aware", "llmd_default"] as const) {
  Deno.test(`${strategy} keeps each conversation on one replica and uses both`, async () => {
    const rig = await startRig({ proxy: { strategy } });
    try {
      const seen = await conversations(rig);
      for (const [i, ids] of seen.entries()) {
        assertEquals(new Set(ids).size, 1, `conversation ${i} moved: ${ids.join(", ")}`);
      }
      assertEquals(new Set(seen.map((ids) => ids[0])).size, 2, "conversations spread");
    } finally {
      await rig.close();
    }
  });
}

Deno.test("consistent_hash sends each session to its ring node, and sessionless requests by QPS", async () => {
  const rig = await startRig({ proxy: { strategy: "consistent_hash" } });
  try {
    const views = rig.gateway.fleet.router(MODEL)!.list().map((b) => b.view);
    const ring = new HashRing();
    for (const v of views) ring.add(v.url);
    const idOf = new Map(views.map((v) => [v.url, v.id]));
    // Requests per replica within the router's 60 s window.
    const routed = new Map(views.map((v) => [v.id, 0]));
    for (let s = 0; s < 8; s++) {
      const expected = idOf.get(ring.get(`s${s}`)!)!;
      for (let turn = 0; turn < 2; turn++) {
        const id = await backendOf(rig, chat(`session ${s} turn ${turn}`), {
          "X-Session-ID": `s${s}`,
        });
        assertEquals(id, expected, `session s${s} turn ${turn}`);
        routed.set(id, routed.get(id)! + 1);
      }
    }
    // Without a session, each request goes to a replica with the fewest requests in the window.
    for (let k = 0; k < 6; k++) {
      const id = await backendOf(rig, chat(`no session ${k}`));
      const fewest = Math.min(...routed.values());
      assertEquals(routed.get(id), fewest, `sessionless ${k} went to ${id}: ${[...routed]}`);
      routed.set(id, routed.get(id)! + 1);
    }
  } finally {
    await rig.close();
  }
});
