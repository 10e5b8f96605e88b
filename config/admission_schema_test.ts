import * as assert from "node:assert/strict";
import { ConfigError, parseConfig } from "./loader.ts";

function problemsOf(text: string): readonly string[] {
  try {
    parseConfig(text, "test.yaml", { env: {} });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  assert.fail("expected a ConfigError");
}

Deno.test("admission: defaults keep caps derived and adaptive, a queue of 1024 and weights 8/4/1", () => {
  const config = parseConfig("models: []", "test.yaml", { env: {} });
  assert.deepEqual(config.admission, {
    enabled: true,
    adaptive: true,
    min_in_flight_per_replica: 2,
    latency_tolerance: 2.5,
    min_queueing_ms: 20,
    queue_wait_factor: 2,
    kv_fraction: 1,
    output_tokens_estimate: 256,
    max_queue: 1024,
    weights: { high: 8, medium: 4, low: 1 },
    default_priority: "medium",
    shed_early: true,
    attained_half_life: 60,
    vllm_priority: { high: 0, medium: 1, low: 2 },
  });
  assert.equal(config.headers.priority, "X-Priority");
});

Deno.test("admission: problems name their YAML path", () => {
  const problems = problemsOf(
    "admission: {max_in_flight_per_replica: 0, weights: {low: -1}, default_priority: urgent,\n" +
      "  latency_tolerance: 1, min_in_flight_per_replica: 0, queue_wait_factor: 0}\n" +
      "models: [{name: m, endpoints: ['http://127.0.0.1:1'], scheduling_policy: lifo}]",
  );
  assert.ok(
    problems.some((p) => p.startsWith("admission.max_in_flight_per_replica:")),
    problems.join("\n"),
  );
  assert.ok(problems.some((p) => p.startsWith("admission.weights.low:")), problems.join("\n"));
  for (const key of ["latency_tolerance", "min_in_flight_per_replica", "queue_wait_factor"]) {
    assert.ok(problems.some((p) => p.startsWith(`admission.${key}:`)), problems.join("\n"));
  }
  assert.ok(problems.some((p) => p.startsWith("admission.default_priority:")), problems.join("\n"));
  assert.ok(
    problems.some((p) => p.startsWith("models[0].scheduling_policy:")),
    problems.join("\n"),
  );
});
