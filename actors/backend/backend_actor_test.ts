import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { ActorSystem, type Behavior } from "../runtime/mod.ts";
import { startSimulator } from "../../sim/mod.ts";
import {
  backendBehavior,
  type BackendMessage,
  type BackendReportMessage,
} from "./backend_actor.ts";
import type { BackendReport } from "./backend_state.ts";
import { waitFor } from "../runtime/testdata/wait.ts";

/** An actor standing in for the router: it keeps every report it is told. */
function collector(reports: BackendReport[]): Behavior<null, BackendReportMessage> {
  return {
    kind: "collector",
    init: () => null,
    receive(state, msg) {
      reports.push(msg.report);
      return state;
    },
  };
}

Deno.test("a BackendActor probes and scrapes its replica, and its circuit opens on failures and closes on a healthy probe", async () => {
  const sim = await startSimulator({ port: 0, timeScale: 20, tokenizer: "approx" });
  const system = await ActorSystem.start();
  const reports: BackendReport[] = [];
  try {
    const router = system.spawn(collector(reports), "r");
    const backend = system.spawn(
      backendBehavior({
        model: sim.model,
        backendId: "b1",
        url: sim.url,
        source: "static",
        router: router.address,
        healthIntervalMs: 60_000,
        scrapeIntervalMs: 50,
        failureThreshold: 2,
        openMs: 100,
      }),
      "m/b1",
    );
    const last = () => reports.at(-1);
    await waitFor(
      "a healthy report with metrics",
      () => last()?.eligible === true && last()?.metrics !== undefined,
    );
    assertEquals([last()?.healthy, last()?.circuit, last()?.metrics?.running], [true, "closed", 0]);

    for (let i = 0; i < 2; i++) {
      backend.tell({ type: "acquired" } satisfies BackendMessage);
      backend.tell(
        { type: "released", outcome: { ok: false, error: "HTTP 500" } } satisfies BackendMessage,
      );
    }
    await waitFor("the circuit to open", () => last()?.circuit === "open", { timeoutMs: 10_000 });
    assertEquals([last()?.eligible, last()?.failed, last()?.lastError], [false, 2, "HTTP 500"]);
    // After openMs a half-open probe of the (healthy) replica closes it again.
    await waitFor(
      "the circuit to close",
      () => last()?.circuit === "closed" && last()?.eligible === true,
    );

    backend.tell({ type: "acquired" });
    backend.tell({ type: "released", outcome: { ok: true, ttftMs: 12, totalMs: 40 } });
    const status = await backend.ask<BackendReport>({ type: "status" });
    assertEquals([status.completed, status.inFlight, status.ewmaTtftMs !== undefined], [
      1,
      0,
      true,
    ]);
    assert((status.ewmaLatencyMs ?? 0) > 0);
  } finally {
    await system.shutdown();
    await sim.close();
  }
});

Deno.test("a BackendActor reports an unreachable replica as unhealthy", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const url = `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`;
  listener.close();
  const system = await ActorSystem.start();
  const reports: BackendReport[] = [];
  try {
    const router = system.spawn(collector(reports), "r");
    system.spawn(
      backendBehavior({
        model: "m",
        backendId: "dead",
        url,
        source: "registered",
        router: router.address,
        healthIntervalMs: 60_000,
        scrapeIntervalMs: 60_000,
        failureThreshold: 3,
        openMs: 10_000,
      }),
      "m/dead",
    );
    await waitFor("a report", () => reports.length > 0, { timeoutMs: 10_000 });
    const report = reports[0]!;
    assertEquals([report.healthy, report.eligible], [false, false]);
    assert(report.lastError?.startsWith("health check failed"));
  } finally {
    await system.shutdown();
  }
});

Deno.test("a /metrics answer cut or stalled mid-body is a failed scrape, and scraping goes on", async () => {
  const encoder = new TextEncoder();
  for (const mode of ["cut", "stall"] as const) {
    let requests = 0;
    const held = new Set<Deno.Conn>();
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const serving = (async () => {
      for await (const conn of listener) {
        (async () => {
          const n = await conn.read(new Uint8Array(4096));
          if (n === null) return conn.close();
          const head = "HTTP/1.1 200 OK\r\nconnection: close\r\n";
          // Every answer (health probes too) announces 1,000 bytes and sends a few.
          await conn.write(
            encoder.encode(`${head}content-length: 1000\r\n\r\nvllm:num_requests_running 1\n`),
          );
          requests++;
          if (mode === "cut") conn.close();
          else held.add(conn);
        })().catch(() => {});
      }
    })().catch(() => {});
    const system = await ActorSystem.start();
    const reports: BackendReport[] = [];
    try {
      const router = system.spawn(collector(reports), "r");
      system.spawn(
        backendBehavior({
          model: "m",
          backendId: "b1",
          url: `http://127.0.0.1:${listener.addr.port}`,
          source: "static",
          router: router.address,
          healthIntervalMs: 60_000,
          scrapeIntervalMs: 20,
          probeTimeoutMs: 200,
          failureThreshold: 2,
          openMs: 100,
        }),
        "m/b1",
      );
      // Each cut or stalled scrape fails, is not taken as metrics, and the next one follows.
      await waitFor(`${mode}: several scrapes`, () => requests >= 4, { timeoutMs: 10_000 });
      assert(reports.every((r) => r.metrics === undefined), mode);
    } finally {
      await system.shutdown();
      listener.close();
      for (const conn of held) conn.close();
      await serving;
    }
  }
});
