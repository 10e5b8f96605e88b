import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { Counter, Histogram, Registry } from "prom-client";
import { CellCounter, CellHistogram } from "./cells.ts";

const BUCKETS = [0, 0.001, 0.01, 0.1, 1];
/** Values on, between, below and above the bounds. */
const VALUES = [0, 0.0005, 0.001, 0.004, 0.01, 0.5, 1, 7, 0.02];

/** The registry's text of a prom-client metric and its cell twin fed the same samples. */
async function rendered(feed: (cells: Registry, plain: Registry) => void): Promise<string[]> {
  const [cells, plain] = [new Registry(), new Registry()];
  feed(cells, plain);
  return [await cells.metrics(), await plain.metrics()];
}

Deno.test("a CellCounter renders what prom-client's Counter renders for the same increments", async () => {
  const [cells, plain] = await rendered((a, b) => {
    const options = { name: "c_total", help: "h", labelNames: ["model", "route"] as const };
    const cell = new CellCounter({ ...options, registers: [a] });
    const counter = new Counter({ ...options, registers: [b] });
    for (
      const [model, route, n] of [["m", "/a", 1], ["n", "/a", 2], ["m", "/b", 3], [
        "m",
        "/a",
        4,
      ]] as const
    ) {
      cell.incAt([model, route], n);
      counter.inc({ model, route }, n);
    }
    cell.incAt(["m", "/a"]);
    counter.inc({ model: "m", route: "/a" });
  });
  assertEquals(cells, plain);
});

Deno.test("a CellHistogram renders what prom-client's Histogram renders for the same observations", async () => {
  const [cells, plain] = await rendered((a, b) => {
    const options = {
      name: "h_seconds",
      help: "h",
      labelNames: ["model"] as const,
      buckets: BUCKETS,
    };
    const cell = new CellHistogram({ ...options, registers: [a] });
    const histogram = new Histogram({ ...options, registers: [b] });
    VALUES.forEach((value, i) => {
      const model = i % 3 === 0 ? "m" : "n";
      cell.observeAt([model], value);
      histogram.observe({ model }, value);
    });
  });
  assertEquals(cells, plain);
});

Deno.test("a CellHistogram skips a value that is not a finite number, and reset() forgets every series", async () => {
  const registry = new Registry();
  const histogram = new CellHistogram({
    name: "h_seconds",
    help: "h",
    labelNames: ["model"],
    buckets: BUCKETS,
    registers: [registry],
  });
  histogram.observeAt(["m"], Number.NaN);
  histogram.observeAt(["m"], 0.5);
  const text = await registry.metrics();
  assertEquals(text.includes('h_seconds_count{model="m"} 1'), true, text);
  registry.resetMetrics();
  assertEquals((await registry.metrics()).includes("h_seconds_count"), false);
});

Deno.test("cells of three labels, of none, and of values a joined key would confuse render as prom-client's", async () => {
  const [cells, plain] = await rendered((a, b) => {
    const three = { name: "t_total", help: "h", labelNames: ["x", "y", "z"] as const };
    const cell = new CellCounter({ ...three, registers: [a] });
    const counter = new Counter({ ...three, registers: [b] });
    for (
      const [x, y, z] of [["a\u0000b", "c", "d"], ["a", "b\u0000c", "d"], ["a", "b", "c"], [
        "a",
        "b",
        "c",
      ]] as const
    ) {
      cell.incAt([x, y, z]);
      counter.inc({ x, y, z });
    }
    const none = { name: "n_seconds", help: "h", buckets: BUCKETS };
    const histogram = new CellHistogram({ ...none, registers: [a] });
    const plainHistogram = new Histogram({ ...none, registers: [b] });
    for (const value of VALUES) {
      histogram.observeAt([], value);
      plainHistogram.observe(value);
    }
  });
  assertEquals(cells, plain);
});
