import { ok as assert } from "node:assert/strict";
import { describeCache, formatTable, renderSvg } from "./report.ts";
import { fixtureRun as run } from "./_testing.ts";

Deno.test("formatTable has a row per strategy and the hit rate as a share of the ceiling", () => {
  const table = formatTable([run("round_robin", 100, 10), run("prefix_aware", 50, 30)], 0.6);
  const lines = table.split("\n");
  assert(lines[0]!.startsWith("strategy"));
  assert(lines[2]!.startsWith("round_robin"));
  assert(lines[3]!.startsWith("prefix_aware") && lines[3]!.includes("50%"), lines[3]);
  assert(table.includes("ceiling of the trace 60.0%"));
});

Deno.test("renderSvg draws a CDF line and a hit-rate bar per strategy, and the ceiling", () => {
  const svg = renderSvg([run("round_robin", 100, 10), run("a<b", 50, 30)], {
    subtitle: "t",
    ceiling: 0.6,
    reachable: 0.2,
  });
  assert(svg.startsWith("<svg"));
  assert(svg.trimEnd().endsWith("</svg>"));
  assert((svg.match(/<polyline/g) ?? []).length === 2);
  assert(svg.includes("ideal ceiling 60%"));
  assert(svg.includes("perfect affinity with this KV size 20%"));
  assert(svg.includes("a&lt;b") && !svg.includes("a<b"));
  // The tallest bar (30%) carries its label inside its top, below the bar's top edge.
  const barTop = (label: string) => {
    const text = svg.match(
      new RegExp(`<text x="[\\d.]+" y="([\\d.]+)" text-anchor="middle">${label}`),
    );
    return Number(text?.[1]);
  };
  const rect = [
    ...svg.matchAll(/<rect x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="[\d.]+" fill="#/g),
  ]
    .map((m) => Number(m[1]));
  assert(rect.length >= 2, svg);
  assert(barTop("30%") > Math.min(...rect), svg);
});

Deno.test("formatTable shows GPU, host and combined hits, the combined against the ceiling, and the cache", () => {
  const table = formatTable([run("prefix_aware", 50, 20, { externalHits: 28 })], 0.6, {
    cache: { kvTokens: 430_000, kvOffloadGib: 4 },
  });
  const lines = table.split("\n");
  const header = lines[0]!.split(/\s{2,}/);
  const row = lines[2]!.split(/\s{2,}/);
  const cell = (name: string) => row[header.indexOf(name)];
  assert(cell("gpu hit") === "20.0" && cell("host hit") === "28.0", lines[2]);
  assert(cell("hit %") === "48.0" && cell("of ceil") === "80%", lines[2]);
  assert(
    table.includes("KV cache per replica: 430000 GPU KV tokens + 4 GiB host tier (32768 tokens"),
  );
  assert(describeCache({ kvTokens: 1000, kvOffloadGib: 0 }) === "1000 GPU KV tokens, no host tier");
});

Deno.test("renderSvg stacks the host tier's hits on the GPU's in each bar", () => {
  const svg = renderSvg([run("prefix_aware", 50, 20, { externalHits: 28 })], {
    subtitle: "t",
    ceiling: 0.6,
  });
  assert(svg.includes('fill-opacity="0.45"'));
  assert(svg.includes("lighter: loaded from the host tier"));
  assert(svg.includes(">48%<"));
});
