import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { chat, MODEL, startRig, waitFor } from "./testing.ts";

Deno.test("a 5xx before the first byte is retried on another backend", async () => {
  const rig = await startRig({
    proxy: { strategy: "round_robin", circuit_failure_threshold: 100 },
  });
  try {
    const [bad, good] = rig.sims as [typeof rig.sims[0], typeof rig.sims[0]];
    bad.faults.apply({ error_rate: 1 });
    for (let i = 0; i < 6; i++) {
      const { response } = await rig.client.chat.completions.create(chat(`turn ${i}`))
        .withResponse();
      assertEquals(response.headers.get("x-turnpike-backend"), new URL(good.url).host);
    }
    const retried = rig.gateway.records.recent().filter((r) => r.attempts === 2);
    assert(retried.length >= 2, `expected some retried requests, got ${retried.length}`);
    assert(retried.every((r) => r.status === 200));
  } finally {
    await rig.close();
  }
});

Deno.test("a connection error before the first byte fails over, and max_retries bounds the attempts", async () => {
  const rig = await startRig({
    replicas: 3,
    proxy: { strategy: "round_robin", max_retries: 1, circuit_failure_threshold: 100 },
  });
  try {
    // Every replica errors: each request tries exactly 1 + max_retries backends, then answers 502.
    for (const sim of rig.sims) sim.faults.apply({ error_rate: 1 });
    const res = await fetch(`${rig.gateway.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(chat("x")),
    });
    assertEquals(res.status, 502);
    assertEquals((await res.json()).error.code, "upstream_error");
    assertEquals(rig.gateway.records.recent()[0]?.attempts, 2);
    for (const sim of rig.sims) sim.faults.clear();
    // A replica that dies while still marked healthy: requests that land on it move to a live one.
    const [dead] = rig.sims.splice(0, 1);
    await dead!.close();
    const deadId = new URL(dead!.url).host;
    for (let i = 0; i < 6; i++) await rig.client.chat.completions.create(chat(`again ${i}`));
    const after = rig.gateway.records.recent({ limit: 6 });
    assert(after.every((r) => r.status === 200 && r.backendId !== deadId));
    // The first failure brings a health probe forward, which marks the dead replica down: a
    // request tries it at most once before that (tests/faults/ covers the kill of a process).
    assert(after.every((r) => r.attempts <= 2), "no request tried more than the dead replica");
  } finally {
    await rig.close();
  }
});

Deno.test("failures open a backend's circuit and a healthy half-open probe closes it", async () => {
  const rig = await startRig({
    proxy: { strategy: "round_robin", circuit_failure_threshold: 2, circuit_open_seconds: 1.5 },
  });
  try {
    const bad = rig.sims[0]!;
    const badId = new URL(bad.url).host;
    bad.faults.apply({ error_rate: 1 });
    for (let i = 0; i < 6; i++) await rig.client.chat.completions.create(chat(`c ${i}`));
    await waitFor(
      "the circuit to open",
      () => rig.gateway.fleet.report(MODEL, badId)?.circuit === "open",
      { timeoutMs: 5_000 },
    );
    // While open, nothing is sent to it.
    const sent = rig.gateway.records.recent().filter((r) => r.backendId === badId).length;
    for (let i = 0; i < 3; i++) await rig.client.chat.completions.create(chat(`d ${i}`));
    assertEquals(rig.gateway.records.recent().filter((r) => r.backendId === badId).length, sent);
    bad.faults.clear();
    await waitFor(
      "the circuit to close",
      () => rig.gateway.fleet.report(MODEL, badId)?.circuit === "closed",
      { timeoutMs: 5_000 },
    );
    const backends = await (await fetch(`${rig.gateway.url}/api/backends`)).json();
    const listed = backends.backends.find((b: { id: string }) => b.id === badId);
    assertEquals([listed.circuit, listed.eligible], ["closed", true]);
    assert(listed.failed >= 2);
  } finally {
    await rig.close();
  }
});

Deno.test("a client disconnect mid-stream aborts the upstream request at once", async () => {
  const rig = await startRig({ replicas: 1, sim: { timeScale: 1 } });
  try {
    const sim = rig.sims[0]!;
    const abort = new AbortController();
    const stream = await rig.client.chat.completions.create(
      { ...chat("a long answer", { max_tokens: 4000 }), stream: true },
      { signal: abort.signal },
    );
    let chunks = 0;
    try {
      for await (const _ of stream) {
        if (++chunks === 3) {
          assertEquals(sim.engine.numRunning, 1);
          abort.abort();
        }
      }
    } catch {
      // The client's own abort.
    }
    await waitFor("the replica's running count to drop", () => sim.engine.numRunning === 0, {
      timeoutMs: 3_000,
    });
    await waitFor(
      "the record of the aborted request",
      () => rig.gateway.records.recent()[0]?.status === 499,
      { timeoutMs: 3_000 },
    );
    const backend = rig.gateway.fleet.router(MODEL)?.list()[0];
    assertEquals(backend?.view.inFlight, 0);
  } finally {
    await rig.close();
  }
});

Deno.test("a disconnect before the first byte aborts the upstream request too", async () => {
  const rig = await startRig({ replicas: 1, sim: { timeScale: 1 } });
  try {
    const sim = rig.sims[0]!;
    const abort = new AbortController();
    const pending = fetch(`${rig.gateway.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(chat("long", { max_tokens: 4000 })),
      signal: abort.signal,
    }).catch(() => undefined);
    await waitFor("the replica to start the request", () => sim.engine.numRunning === 1, {
      timeoutMs: 3_000,
    });
    abort.abort();
    await pending;
    await waitFor("the replica's running count to drop", () => sim.engine.numRunning === 0, {
      timeoutMs: 3_000,
    });
  } finally {
    await rig.close();
  }
});

Deno.test("a stream that breaks after its first byte ends with an OpenAI-shaped error event", async () => {
  const rig = await startRig({ replicas: 1 });
  try {
    rig.sims[0]!.faults.apply({ cut_rate: 1, cut_after_tokens: 2 });
    const res = await fetch(`${rig.gateway.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(chat("cut me", { max_tokens: 50, stream: true })),
    });
    assertEquals(res.status, 200);
    const text = await res.text();
    const events = text.split("\n\n").filter((e) => e.startsWith("data: "));
    assertEquals(events.at(-1), "data: [DONE]", "the broken stream still ends with [DONE]");
    const last = JSON.parse(events.at(-2)!.slice(6));
    assertEquals([last.error.code, last.error.type], ["upstream_error", "api_error"]);
    assert(events.length >= 3, "the tokens before the cut are relayed");
    await waitFor("the record", () => rig.gateway.records.recent().length === 1);
    assert(rig.gateway.records.recent()[0]?.error !== undefined);
  } finally {
    await rig.close();
  }
});
