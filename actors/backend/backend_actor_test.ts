import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { ActorSystem, type Behavior } from "../runtime/mod.ts";
import { startSimulator } from "../../sim/mod.ts";
import {
  backendBehavior,
  type BackendMessage,
  type BackendReportMessage,
} from "./backend_actor.ts";
import type { BackendReport } from "./backend_state.ts";

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

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
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
    await until(
      () => last()?.eligible === true && last()?.metrics !== undefined,
      "a healthy report with metrics",
    );
    assertEquals([last()?.healthy, last()?.circuit, last()?.metrics?.running], [true, "closed", 0]);

    for (let i = 0; i < 2; i++) {
      backend.tell({ type: "acquired" } satisfies BackendMessage);
      backend.tell(
        { type: "released", outcome: { ok: false, error: "HTTP 500" } } satisfies BackendMessage,
      );
    }
    await until(() => last()?.circuit === "open", "the circuit to open");
    assertEquals([last()?.eligible, last()?.failed, last()?.lastError], [false, 2, "HTTP 500"]);
    // After openMs a half-open probe of the (healthy) replica closes it again.
    await until(
      () => last()?.circuit === "closed" && last()?.eligible === true,
      "the circuit to close",
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
    await until(() => reports.length > 0, "a report");
    const report = reports[0]!;
    assertEquals([report.healthy, report.eligible], [false, false]);
    assert(report.lastError?.startsWith("health check failed"));
  } finally {
    await system.shutdown();
  }
});
