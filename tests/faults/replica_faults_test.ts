/**
 * Replica faults the gateway survives, with replicas as real `main.ts sim` processes: one killed
 * with SIGKILL mid-stream, one hung (no byte on anything, health probe included), one answering
 * garbage with status 200, and every replica down then one coming back on its port.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import OpenAI from "openai";
import { ConfigSchema } from "../../config/mod.ts";
import { startGateway } from "../../gateway/gateway.ts";
import type { Gateway } from "../../gateway/gateway.ts";
import { postChat, readSse, SimProcess, waitFor } from "./_testing.ts";

const MODEL = "llama-3.1-8b-sim";

/** Runs `fn` with `count` sim processes and a gateway over them; kills and removes everything after. */
async function withFleet(
  options: { count: number; proxy: Record<string, unknown>; simArgs?: string[] },
  fn: (gateway: Gateway, sims: SimProcess[]) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "turnpike-faults-" });
  const sims: SimProcess[] = [];
  let gateway: Gateway | undefined;
  try {
    for (let i = 0; i < options.count; i++) {
      sims.push(await SimProcess.start(0, ["--seed", String(i), ...(options.simArgs ?? [])]));
    }
    const config = ConfigSchema.parse({
      proxy: {
        strategy: "round_robin",
        health_check_interval: 0.5,
        metrics_scrape_interval: 0.5,
        ...options.proxy,
      },
      models: [{ name: MODEL, endpoints: sims.map((s) => s.url) }],
      state_dir: dir,
    });
    gateway = await startGateway(config, { port: 0, hostname: "127.0.0.1" });
    await fn(gateway, sims);
  } finally {
    // A frozen replica would hold the gateway's probes: thaw it before the gateway stops.
    await Promise.all(sims.map((s) => s.clearFaults().catch(() => {})));
    await gateway?.close({ deadlineMs: 2_000 });
    for (const sim of sims) await sim.kill();
    await Deno.remove(dir, { recursive: true });
  }
}

function idOf(sim: SimProcess): string {
  return new URL(sim.url).host;
}

Deno.test("a replica killed with SIGKILL mid-stream: an error event and [DONE], it is marked down, the next requests go to the other", async () => {
  await withFleet({
    count: 2,
    proxy: { circuit_failure_threshold: 3, circuit_open_seconds: 1 },
    simArgs: ["--time-scale", "1"],
  }, async (gateway, sims) => {
    const res = await postChat(gateway.url, "a long story", { stream: true, maxTokens: 4000 });
    assertEquals(res.status, 200);
    const servedBy = res.headers.get("x-turnpike-backend");
    const victim = sims.find((s) => idOf(s) === servedBy)!;
    const survivor = sims.find((s) => s !== victim)!;
    // Wait for tokens to flow, then kill the replica that streams them.
    const reader = res.body!.getReader();
    let head = "";
    while ((head.match(/\n\n/g) ?? []).length < 3) {
      const { value, done } = await reader.read();
      assert(!done, `the stream ended before the kill: ${head}`);
      head += new TextDecoder().decode(value);
    }
    await victim.kill();
    let rest = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      rest += new TextDecoder().decode(value);
    }
    const got = await readSse(new Response(head + rest));
    assertEquals(got.error?.code, "upstream_error");
    assertEquals(got.error?.type, "api_error");
    assert(got.doneLast, `the stream ends with data: [DONE]: ${rest}`);
    assert(
      got.events.slice(0, -2).every((e) => typeof e === "object"),
      "every event before the error is whole JSON",
    );
    // The failed stream brings a probe forward; the refused connection marks it down.
    await waitFor(
      "the killed replica to be marked down",
      () => gateway.fleet.report(MODEL, idOf(victim))?.eligible === false,
      { timeoutMs: 10_000 },
    );
    const before = gateway.records.recent().length;
    for (let i = 0; i < 6; i++) {
      const answer = await postChat(gateway.url, `after the kill ${i}`);
      assertEquals(answer.status, 200, await answer.clone().text());
      assertEquals(answer.headers.get("x-turnpike-backend"), idOf(survivor));
      await answer.body?.cancel();
    }
    const after = gateway.records.recent({ limit: gateway.records.recent().length - before });
    assert(after.every((r) => r.attempts === 1), "no request tried the dead replica first");
  });
});

Deno.test("a hung replica: its request times out, its circuit opens, and the half-open probe closes it once it answers again", async () => {
  await withFleet({
    count: 2,
    proxy: { first_byte_timeout: 1, circuit_failure_threshold: 2, circuit_open_seconds: 1 },
  }, async (gateway, sims) => {
    const [hung, good] = sims as [SimProcess, SimProcess];
    await waitFor(
      "both replicas to be eligible",
      () => sims.every((s) => gateway.fleet.report(MODEL, idOf(s))?.eligible),
      { timeoutMs: 10_000 },
    );
    await hung.faults({ freeze: true });
    // Round robin sends one of two streams to the hung replica: it gets a 504, not a hang.
    const statuses: number[] = [];
    for (let i = 0; i < 2; i++) {
      const res = await postChat(gateway.url, `hang ${i}`, { stream: true });
      statuses.push(res.status);
      if (res.status === 504) assertEquals((await res.json()).error.code, "upstream_timeout");
      else await res.text();
    }
    assert(statuses.includes(504), `one request timed out: ${statuses}`);
    await waitFor(
      "the hung replica's circuit to open",
      () => gateway.fleet.report(MODEL, idOf(hung))?.circuit === "open",
      { timeoutMs: 20_000, everyMs: 20 },
    );
    for (let i = 0; i < 4; i++) {
      const res = await postChat(gateway.url, `while open ${i}`);
      assertEquals([res.status, res.headers.get("x-turnpike-backend")], [200, idOf(good)]);
      await res.body?.cancel();
    }
    await hung.clearFaults();
    await waitFor(
      "the half-open probe to close the circuit",
      () => {
        const report = gateway.fleet.report(MODEL, idOf(hung));
        return report?.circuit === "closed" && report.eligible;
      },
      { timeoutMs: 20_000 },
    );
    const served = new Set<string | null>();
    for (let i = 0; i < 4; i++) {
      const res = await postChat(gateway.url, `healed ${i}`);
      assertEquals(res.status, 200);
      served.add(res.headers.get("x-turnpike-backend"));
      await res.body?.cancel();
    }
    assert(served.has(idOf(hung)), "the healed replica serves again");
  });
});

Deno.test("garbage with status 200 from a replica: a 502 before anything was relayed, an error event and [DONE] mid-stream", async () => {
  await withFleet(
    { count: 1, proxy: { circuit_failure_threshold: 100 } },
    async (gateway, sims) => {
      const sim = sims[0]!;
      await sim.faults({ garbage: "non_json" });
      let res = await postChat(gateway.url, "not json");
      assertEquals(res.status, 502);
      assertEquals((await res.json()).error.code, "upstream_invalid_response");

      await sim.faults({ garbage: "html" });
      for (const stream of [true, false]) {
        res = await postChat(gateway.url, "html page", { stream });
        assertEquals(res.status, 502);
        assertEquals(res.headers.get("content-type"), "application/json");
        const error = (await res.json()).error;
        assertEquals(error.code, "upstream_error");
        assert(error.message.includes("text/html"), error.message);
      }

      await sim.faults({ garbage: "truncated_sse" });
      res = await postChat(gateway.url, "cut mid-event", { stream: true });
      assertEquals(res.status, 200);
      const got = await readSse(res);
      assertEquals(got.events.length, 3, JSON.stringify(got.events));
      assertEquals((got.events[0] as { object: string }).object, "chat.completion.chunk");
      assertEquals(got.error?.code, "upstream_error");
      assert(got.doneLast);
      // The openai client, as an agent uses it, gets an APIError from the error event.
      const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: "x", maxRetries: 0 });
      const stream = await client.chat.completions.create({
        model: MODEL,
        messages: [{ role: "user", content: "again" }],
        stream: true,
      });
      const thrown = await (async () => {
        for await (const _ of stream) { /* the first chunk, then the error */ }
      })().then(() => undefined, (error) => error);
      assert(thrown instanceof OpenAI.APIError, `the client throws an APIError: ${thrown}`);
      assert(/\[DONE\]/.test(thrown.message), thrown.message);
    },
  );
});

Deno.test("a stream answered with HTML is retried on a replica that answers properly", async () => {
  await withFleet(
    { count: 2, proxy: { circuit_failure_threshold: 100 } },
    async (gateway, sims) => {
      await sims[0]!.faults({ garbage: "html" });
      for (let i = 0; i < 4; i++) {
        const res = await postChat(gateway.url, `retry ${i}`, { stream: true });
        assertEquals(res.status, 200);
        const got = await readSse(res);
        assert(got.doneLast && got.error === undefined, JSON.stringify(got.events));
        assertEquals(res.headers.get("x-turnpike-backend"), idOf(sims[1]!));
      }
    },
  );
});

Deno.test("every replica down: a prompt 503 with Retry-After, and service again once one comes back on its port", async () => {
  await withFleet({
    count: 2,
    proxy: { circuit_failure_threshold: 2, circuit_open_seconds: 1 },
  }, async (gateway, sims) => {
    for (const sim of sims) await sim.kill();
    await waitFor(
      "both replicas to be marked down",
      () => sims.every((s) => gateway.fleet.report(MODEL, idOf(s))?.eligible === false),
      { timeoutMs: 10_000 },
    );
    const started = performance.now();
    const res = await postChat(gateway.url, "anyone?");
    const tookMs = performance.now() - started;
    assertEquals(res.status, 503);
    assertEquals(res.headers.get("retry-after"), "5");
    const body = await res.json();
    assertEquals(Object.keys(body.error).sort(), ["code", "message", "param", "type"]);
    assertEquals(body.error.code, "no_healthy_backend");
    // Generous for a loaded machine; a request that waited on a connect timeout would take 3 s.
    assert(tookMs < 2_000, `answered in ${tookMs.toFixed(0)} ms`);

    await sims[0]!.restart();
    const answer = await waitFor("the gateway to serve again", async () => {
      const again = await postChat(gateway.url, "back?");
      if (again.status === 200) return again;
      await again.body?.cancel();
      return undefined;
    }, { timeoutMs: 20_000, everyMs: 250 });
    assertEquals(answer.headers.get("x-turnpike-backend"), idOf(sims[0]!));
    await answer.body?.cancel();
  });
});
