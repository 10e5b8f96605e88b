/** End-to-end distribution checks of each routing strategy through the gateway, with simulated replicas. */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { chat, MODEL, startRig, waitFor } from "../gateway/testing.ts";
import { backendOf } from "./routing_testing.ts";

function counts(ids: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const id of ids) m.set(id, (m.get(id) ?? 0) + 1);
  return m;
}

Deno.test("round_robin spreads sequential requests evenly", async () => {
  const rig = await startRig({ proxy: { strategy: "round_robin" } });
  try {
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push(await backendOf(rig, chat(`q${i}`)));
    assertEquals([...counts(ids).values()], [5, 5]);
  } finally {
    await rig.close();
  }
});

Deno.test("least_connections sends concurrent requests to the less busy replica", async () => {
  const rig = await startRig({ proxy: { strategy: "least_connections" }, sim: { timeScale: 2 } });
  try {
    const ids = await Promise.all(
      Array.from({ length: 6 }, (_, i) => backendOf(rig, chat(`c${i}`, { max_tokens: 200 }))),
    );
    assertEquals([...counts(ids).values()].sort(), [3, 3]);
  } finally {
    await rig.close();
  }
});

Deno.test("least_latency moves traffic to the replica with the lower time to first token", async () => {
  const rig = await startRig({ proxy: { strategy: "least_latency" } });
  try {
    const slow = rig.sims[0]!;
    slow.faults.apply({ slow_token_ms: 1_500 });
    slow.engine.extraStepMs = 1_500;
    const fastId = new URL(rig.sims[1]!.url).host;
    const ids: string[] = [];
    for (let i = 0; i < 14; i++) ids.push(await backendOf(rig, chat(`l${i}`, { max_tokens: 2 })));
    const late = ids.slice(-8);
    const views = rig.gateway.fleet.router(MODEL)?.list().map((b) =>
      `${b.view.id}=${b.view.ewmaTtftMs}`
    );
    assert(
      late.filter((id) => id === fastId).length >= 7,
      `late picks: ${late.join(", ")}; fast ${fastId}; ${views}`,
    );
  } finally {
    await rig.close();
  }
});

Deno.test("least_load avoids the replica whose scraped metrics show it busy", async () => {
  const rig = await startRig({
    proxy: { strategy: "least_load", metrics_scrape_interval: 0.1 },
    sim: { timeScale: 1 },
  });
  const busyStreams: AbortController[] = [];
  try {
    const busy = rig.sims[0]!;
    const busyId = new URL(busy.url).host;
    // Load the first replica directly, behind the gateway's back: only its /metrics shows it.
    for (let i = 0; i < 4; i++) {
      const abort = new AbortController();
      busyStreams.push(abort);
      fetch(`${busy.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(chat(`bg${i}`, { max_tokens: 3000, stream: true })),
        signal: abort.signal,
      }).then((res) => res.text(), () => {}).catch(() => {});
    }
    await waitFor(
      "the scrape to see the busy replica",
      () => rig.gateway.fleet.report(MODEL, busyId)?.metrics?.running === 4,
    );
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push(await backendOf(rig, chat(`ll${i}`, { max_tokens: 2 })));
    assertEquals(ids.filter((id) => id === busyId).length, 0, `picks: ${ids.join(", ")}`);
  } finally {
    for (const abort of busyStreams) abort.abort();
    await rig.close();
  }
});

Deno.test("session_affinity keeps a session on one replica and spreads sessions", async () => {
  const rig = await startRig({ proxy: { strategy: "session_affinity" } });
  try {
    const bySession = new Map<string, Set<string>>();
    for (let turn = 0; turn < 3; turn++) {
      for (let s = 0; s < 6; s++) {
        const id = await backendOf(rig, chat(`session ${s} turn ${turn}`), {
          "X-Session-ID": `s${s}`,
        });
        bySession.set(`s${s}`, (bySession.get(`s${s}`) ?? new Set()).add(id));
      }
    }
    for (const [session, ids] of bySession) {
      assertEquals(ids.size, 1, `${session} moved: ${[...ids].join(", ")}`);
    }
    const used = new Set([...bySession.values()].flatMap((ids) => [...ids]));
    assertEquals(used.size, 2);
  } finally {
    await rig.close();
  }
});

Deno.test("prefix_aware sends prompts sharing a long prefix to the same replica", async () => {
  const rig = await startRig({ proxy: { strategy: "prefix_aware" } });
  try {
    const contexts = Array.from(
      { length: 6 },
      (_, i) => `Context ${i}: ` + `agent ${i} tool output line. `.repeat(260),
    );
    const first = new Map<number, string>();
    for (let i = 0; i < contexts.length; i++) {
      first.set(i, await backendOf(rig, chat(contexts[i]!)));
    }
    for (let turn = 1; turn <= 2; turn++) {
      for (let i = 0; i < contexts.length; i++) {
        const id = await backendOf(rig, chat(`${contexts[i]} follow-up ${turn}`));
        assertEquals(id, first.get(i), `context ${i} turn ${turn} moved`);
      }
    }
    assertEquals(new Set(first.values()).size, 2, "distinct prefixes use both replicas");
  } finally {
    await rig.close();
  }
});

Deno.test("weighted strategies combine and still route every request", async () => {
  const rig = await startRig({ proxy: { strategy: { prefix_aware: 2, least_load: 1 } } });
  try {
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push(await backendOf(rig, chat(`w${i}`)));
    assert(ids.every((id) => rig.sims.some((s) => s.url.endsWith(id))));
  } finally {
    await rig.close();
  }
});
