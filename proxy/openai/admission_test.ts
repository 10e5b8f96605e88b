import * as assert from "node:assert/strict";
import OpenAI from "openai";
import { chat, MODEL, startEchoUpstream, startRig, waitFor } from "../../gateway/testing.ts";

/** One request's end as a client sees it: the status, its Retry-After, and how long it took. */
interface Ending {
  status: number;
  retryAfter: string | null;
  ms: number;
}

/** Sends a chat request with the openai client and notes how it ended. */
async function ending(
  client: OpenAI,
  body: OpenAI.ChatCompletionCreateParamsNonStreaming,
  options: OpenAI.RequestOptions = {},
): Promise<Ending> {
  const started = performance.now();
  try {
    await client.chat.completions.create(body, options);
    return { status: 200, retryAfter: null, ms: performance.now() - started };
  } catch (error) {
    if (!(error instanceof OpenAI.APIError) || error.status === undefined) throw error;
    return {
      status: error.status,
      retryAfter: error.headers?.get("retry-after") ?? null,
      ms: performance.now() - started,
    };
  }
}

// At time scale 20 a slow-token fault of 100 simulated ms per step makes a 20-token answer take
// about 0.1 s of real time: saturating two replicas capped at two requests each costs little.
const SLOW = { slowTokenMs: 100 };

Deno.test("a burst far above capacity is refused at once with Retry-After, the admitted succeed, no circuit opens, and the next request is served", async () => {
  const rig = await startRig({
    sim: SLOW,
    proxy: { request_timeout: 8 },
    // The wait bound is the deadline here, so the 12-deep queue fills and answers 429 too.
    admission: { max_in_flight_per_replica: 2, max_queue: 12, queue_wait_factor: 1000 },
  });
  try {
    const body = chat("burst", { max_tokens: 20 });
    // Teach the gate the service time first, as steady traffic before a burst would.
    const warm = await Promise.all(Array.from({ length: 4 }, () => ending(rig.client, body)));
    assert.deepEqual(warm.map((e) => e.status), [200, 200, 200, 200]);
    const burst = await Promise.all(Array.from({ length: 120 }, () => ending(rig.client, body)));
    const served = burst.filter((e) => e.status === 200);
    const refused = burst.filter((e) => e.status !== 200);
    assert.ok(served.length >= 4, `only ${served.length} served`);
    assert.ok(refused.length >= 100, `only ${refused.length} refused`);
    for (const e of refused) {
      assert.ok(e.status === 429 || e.status === 503, `status ${e.status}`);
      assert.ok(Number(e.retryAfter) >= 1, `Retry-After ${e.retryAfter}`);
      // Refused up front, not after waiting out the 8 s timeout.
      assert.ok(e.ms < 4_000, `refused after ${e.ms.toFixed(0)} ms`);
    }
    assert.ok(refused.some((e) => e.status === 429), "the full queue answers 429");
    for (const backend of rig.gateway.fleet.backends()) {
      assert.equal(backend.report?.circuit, "closed", backend.id);
    }
    const stats = rig.gateway.admission.stats()[MODEL]!;
    assert.equal(stats.waiting, 0);
    assert.equal(stats.queueFull + stats.shed, refused.length);
    const api = await (await fetch(`${rig.gateway.url}/api/stats`)).json();
    assert.deepEqual(api.admission[MODEL], stats, "operators see the same counters");
    assert.equal((await ending(rig.client, body)).status, 200);
  } finally {
    await rig.close();
  }
});

Deno.test("a high-priority request overtakes low-priority ones waiting in the queue", async () => {
  const rig = await startRig({
    replicas: 1,
    sim: SLOW,
    admission: { max_in_flight_per_replica: 1, shed_early: false },
  });
  try {
    const finished: string[] = [];
    const send = (name: string, priority: string) =>
      ending(rig.client, chat(name, { max_tokens: 10 }), { headers: { "X-Priority": priority } })
        .then((e) => {
          assert.equal(e.status, 200);
          finished.push(name);
        });
    const blocker = send("blocker", "low");
    await waitFor("the blocker to run", () => rig.sims[0]!.engine.numRunning === 1);
    const lows = ["low-1", "low-2", "low-3"].map((name) => send(name, "low"));
    const gate = () => rig.gateway.admission.stats()[MODEL];
    await waitFor("three lows to wait", () => gate()?.waiting === 3);
    const high = send("high", "high");
    await waitFor("the high one to wait", () => gate()?.waiting === 4);
    await Promise.all([blocker, ...lows, high]);
    assert.deepEqual(finished, ["blocker", "high", "low-1", "low-2", "low-3"]);
  } finally {
    await rig.close();
  }
});

Deno.test("a priority header that names no class is a 400 naming the header", async () => {
  const rig = await startRig({ replicas: 1 });
  try {
    const e = await ending(rig.client, chat("x"), { headers: { "X-Priority": "urgent" } });
    assert.equal(e.status, 400);
    const response = await fetch(`${rig.gateway.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-priority": "urgent" },
      body: JSON.stringify(chat("x")),
    });
    const { error } = await response.json();
    assert.deepEqual([error.param, error.code], ["X-Priority", "invalid_priority"]);
  } finally {
    await rig.close();
  }
});

Deno.test("a request whose client leaves while it waits leaves the queue at once", async () => {
  const rig = await startRig({
    replicas: 1,
    sim: SLOW,
    admission: { max_in_flight_per_replica: 1 },
  });
  try {
    const blocker = ending(rig.client, chat("blocker", { max_tokens: 400 }));
    await waitFor("the blocker to run", () => rig.sims[0]!.engine.numRunning === 1);
    // A disconnect by fetch: the openai client's own abort in Deno leaves the connection open,
    // so the gateway cannot see that its caller left.
    const abort = new AbortController();
    const left = fetch(`${rig.gateway.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(chat("leaver")),
      signal: abort.signal,
    }).then(() => "answered", () => "aborted");
    const gate = () => rig.gateway.admission.stats()[MODEL];
    await waitFor("the leaver to wait", () => gate()?.waiting === 1);
    abort.abort();
    assert.equal(await left, "aborted");
    await waitFor("the queue to empty", () => gate()?.waiting === 0);
    assert.equal(gate()?.abandoned, 1, JSON.stringify(gate()));
    assert.equal((await blocker).status, 200);
    assert.equal(gate()?.admittedAfterWait, 0);
  } finally {
    await rig.close();
  }
});

Deno.test("request timeouts on replicas busy with work do not open their circuits", async () => {
  const rig = await startRig({
    sim: { slowTokenMs: 400 },
    proxy: { request_timeout: 1, circuit_failure_threshold: 2 },
    admission: { enabled: false },
  });
  try {
    // Each answer needs ~4 s of real time: every stream is cut by the timeout on a busy replica.
    const cut = await Promise.all(Array.from({ length: 8 }, async () => {
      const stream = await rig.client.chat.completions.create({
        ...chat("slow", { max_tokens: 200 }),
        stream: true,
      });
      try {
        for await (const _chunk of stream) continue;
        return "finished";
      } catch (error) {
        return error instanceof Error && error.message.includes("timed out") ? "timed out" : error;
      }
    }));
    assert.deepEqual(cut, Array(8).fill("timed out"));
    for (const backend of rig.gateway.fleet.backends()) {
      assert.equal(backend.report?.circuit, "closed", backend.id);
      assert.equal(backend.report?.eligible, true, backend.id);
    }
  } finally {
    await rig.close();
  }
});

Deno.test("the priority field reaches a replica run with --scheduling-policy priority and no other", async () => {
  const echoPriority = await startEchoUpstream();
  const echoFcfs = await startEchoUpstream();
  const rig = await startRig({
    sim: { schedulingPolicy: "priority" },
    replicas: 1,
    model: { scheduling_policy: "priority" },
    models: [
      { name: "echo-priority", endpoints: [echoPriority.url], scheduling_policy: "priority" },
      { name: "echo-fcfs", endpoints: [echoFcfs.url] },
    ],
  });
  const plain = await startRig({ replicas: 1 });
  try {
    const low = { headers: { "X-Priority": "low" } };
    // A real simulated replica: with the policy it serves priority 2; without it, it would
    // answer 400, so the plain gateway must not send the field.
    assert.equal((await ending(rig.client, chat("p"), low)).status, 200);
    assert.equal((await ending(plain.client, chat("p"), low)).status, 200);
    for (const model of ["echo-priority", "echo-fcfs"]) {
      await fetch(`${rig.gateway.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-priority": "high" },
        body: JSON.stringify({ ...chat("p"), model }),
      }).then((r) => r.body?.cancel());
    }
    assert.equal(JSON.parse(echoPriority.seen.at(-1)!.body).priority, 0);
    assert.equal("priority" in JSON.parse(echoFcfs.seen.at(-1)!.body), false);
  } finally {
    await rig.close();
    await plain.close();
    await echoPriority.close();
    await echoFcfs.close();
  }
});
