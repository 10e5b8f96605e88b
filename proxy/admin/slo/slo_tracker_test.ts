import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { Registry } from "prom-client";
import { SloSchema } from "../../../config/slo_schema.ts";
import { RecordStore } from "../../records.ts";
import { record } from "../../_record_fixture.ts";
import { SloTracker } from "./slo_tracker.ts";

function tracker(nowMs: { value: number }) {
  const records = new RecordStore();
  const registry = new Registry();
  const lines: { msg: string; fields: Record<string, unknown> | undefined }[] = [];
  const log = (msg: string, fields?: Record<string, unknown>) => lines.push({ msg, fields });
  const slo = new SloTracker({
    config: SloSchema.parse({ window: 60, models: { m: { ttft_p95_ms: 200, error_rate: 0.1 } } }),
    records,
    registry,
    logger: { warn: log, info: log },
    armOf: (r) => r.sessionId === "canary-session" ? "canary" : undefined,
    now: () => nowMs.value,
  });
  return { records, registry, lines, slo };
}

Deno.test("SloTracker counts and logs an objective going from met to violated once, and again after it recovered", async () => {
  const now = { value: 100_000 };
  const { records, registry, lines, slo } = tracker(now);
  try {
    for (let i = 0; i < 10; i++) records.add(record(now.value, { upstreamTtftMs: 50 }));
    slo.evaluate();
    assertEquals(slo.status().models[0]?.objectives[0]?.violated, false);
    for (let i = 0; i < 10; i++) records.add(record(now.value, { upstreamTtftMs: 900 }));
    slo.evaluate();
    slo.evaluate();
    const [ttft] = slo.status().models[0]!.objectives;
    assertEquals([ttft?.violated, ttft?.burn, ttft?.violations_total], [true, 10, 1]);
    assertEquals(lines.filter((l) => l.msg === "SLO violated").length, 1);
    assertEquals(lines[0]?.fields?.model, "m");
    // Past the window the slow samples leave it, and the objective is met again.
    now.value += 61_000;
    for (let i = 0; i < 10; i++) records.add(record(now.value, { upstreamTtftMs: 50 }));
    slo.evaluate();
    assertEquals(lines.at(-1)?.msg, "SLO met again");
    const text = await registry.metrics();
    assert(text.includes('turnpike_slo_violations_total{model="m",objective="ttft_p95"} 1'), text);
    assert(
      text.includes('turnpike_slo_violations_total{model="m",objective="error_rate"} 0'),
      text,
    );
    assert(text.includes('turnpike_slo_burn_rate{model="m",objective="ttft_p95"} 0'), text);
  } finally {
    slo.close();
  }
});

Deno.test("SloTracker's burnSince() reads one canary side's requests since a time, and ignores models without objectives", () => {
  const now = { value: 100_000 };
  const { records, slo } = tracker(now);
  try {
    records.add(record(90_000, { upstreamTtftMs: 900, sessionId: "canary-session" }));
    records.add(record(99_000, { upstreamTtftMs: 900, sessionId: "canary-session" }));
    records.add(record(99_000, { upstreamTtftMs: 50, routeArm: "incumbent" }));
    records.add(record(99_000, { model: "other", upstreamTtftMs: 900 }));
    assertEquals(slo.burnSince("m", 95_000, "canary"), { burn: 20, requests: 1 });
    assertEquals(slo.burnSince("m", 95_000, "incumbent"), { burn: 0, requests: 1 });
    assertEquals(slo.burnSince("other", 0, "canary"), { burn: null, requests: 0 });
    assertEquals(slo.status().models.map((m) => m.model), ["m"]);
  } finally {
    slo.close();
  }
});
