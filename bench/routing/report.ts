/** The routing bench's outputs: the terminal table and the SVG picture (TTFT CDF per strategy, hit rate against the ceiling). */
import { kvTokensInGib } from "../../sim/mod.ts";
import type { StrategyRun } from "./measure.ts";
import { alignedTable } from "../table.ts";

function fmt(n: number, digits = 0): string {
  return Number.isFinite(n) ? n.toFixed(digits) : "-";
}

/** The KV cache each replica had in a run, so a reader knows which configuration the numbers are of. */
export interface CacheSetting {
  /** GPU KV tokens per replica. */
  kvTokens: number;
  /** GiB of host KV tier per replica (vLLM's `--kv-offloading-size`); 0 for none. */
  kvOffloadGib: number;
}

/** The cache setting in words, e.g. "430000 GPU KV tokens + 4 GiB host tier (32768 tokens, ...)". */
export function describeCache(cache: CacheSetting): string {
  const gpu = `${cache.kvTokens} GPU KV tokens`;
  if (!(cache.kvOffloadGib > 0)) return `${gpu}, no host tier`;
  return `${gpu} + ${cache.kvOffloadGib} GiB host tier (${
    kvTokensInGib(cache.kvOffloadGib)
  } tokens, native offloading)`;
}

/** Options of {@linkcode formatTable}. */
export interface TableOptions {
  /** The replicas' cache, named under the table. */
  cache?: CacheSetting;
}

/**
 * The terminal table of the runs, one row per strategy: hits found on the GPU, loaded from the
 * host tier, and both, with both as a share of the ceiling.
 */
export function formatTable(
  runs: readonly StrategyRun[],
  ceiling: number,
  options: TableOptions = {},
): string {
  const header = [
    "strategy",
    "repl",
    "TTFT mean",
    "p50",
    "p90",
    "p99",
    "replica TTFT",
    "ITL p50",
    "p99",
    "e2e p50",
    "req/s",
    "tok/s",
    "gpu hit",
    "host hit",
    "hit %",
    "of ceil",
    "imbal req",
    "busy",
    "failed",
    "cpu",
    "est MAE",
    "est p90",
  ];
  const rows = runs.map((r) => [
    r.strategy,
    String(r.replicas),
    fmt(r.ttftMs.mean),
    fmt(r.ttftMs.p50),
    fmt(r.ttftMs.p90),
    fmt(r.ttftMs.p99),
    fmt(r.replicaView.ttftMeanMs),
    fmt(r.itlMs.p50, 1),
    fmt(r.itlMs.p99, 1),
    fmt(r.e2eMs.p50),
    fmt(r.requestsPerS, 2),
    fmt(r.outputTokensPerS),
    fmt(r.localHitRate * 100, 1),
    fmt(r.externalHitRate * 100, 1),
    fmt(r.hitRate * 100, 1),
    ceiling > 0 ? `${fmt((r.hitRate / ceiling) * 100)}%` : "-",
    fmt(r.requestImbalance, 2),
    fmt(r.busyImbalance, 2),
    String(r.failed),
    r.cpuCores ? fmt(r.cpuCores.replicas + r.cpuCores.gateway + r.cpuCores.loadGenerator, 2) : "-",
    r.estimateError ? fmt(r.estimateError.meanAbsTokens) : "-",
    r.estimateError ? fmt(r.estimateError.p90AbsTokens) : "-",
  ]);
  return [
    ...alignedTable(header, rows),
    "",
    `Latencies in ms of wall time (replica TTFT: the mean the replicas report); ideal prefix-hit ceiling of the trace ${
      fmt(ceiling * 100, 1)
    }%.`,
    "Prefix hits in % of prompt tokens: gpu (cached on the GPU) plus host (loaded from the host tier) is hit %.",
    "est MAE, est p90: the router's estimate of each request's cached prompt tokens against the replica's report (mean and p90 of the absolute error, tokens).",
    ...(options.cache ? [`KV cache per replica: ${describeCache(options.cache)}.`] : []),
  ].join("\n");
}

/** A hit-rate bar at least this tall (px) carries its label inside its top. */
const BAR_LABEL_INSIDE_PX = 20;
const COLORS = [
  "#1f77b4",
  "#ff7f0e",
  "#2ca02c",
  "#d62728",
  "#9467bd",
  "#8c564b",
  "#e377c2",
  "#7f7f7f",
  "#bcbd22",
  "#17becf",
];

function esc(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** Options of {@linkcode renderSvg}. */
export interface SvgOptions {
  /** A line under the title: trace, replicas, time scale. */
  subtitle: string;
  /** The trace's ideal hit rate, 0 to 1. */
  ceiling: number;
  /** The hit rate perfect session affinity reaches with the replicas' cache size, 0 to 1. */
  reachable?: number;
  /**
   * The strategy the others are compared with (turnpike's default): the legend and the bars then
   * show each strategy's mean and p99 TTFT and hit rate as a ratio to its run.
   */
  reference?: string;
}

/**
 * Draws the runs as an SVG: on the left the TTFT CDF of each strategy (log-scale ms), on the
 * right each strategy's prefix-cache hit rate as a bar against the trace's ceiling.
 */
export function renderSvg(runs: readonly StrategyRun[], options: SvgOptions): string {
  const ref = options.reference === undefined
    ? undefined
    : runs.find((r) => r.strategy === options.reference);
  const rel = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(2)}x` : "-");
  const W = 1100;
  const H = 480;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="20" y="26" font-size="17" font-weight="bold">Routing strategies: time to first token and prefix-cache hits</text>`,
    `<text x="20" y="46" fill="#555">${esc(options.subtitle)}</text>`,
  );
  // Left: CDF.
  const cx = 70, cy = 70, cw = 560, ch = 340;
  const all = runs.flatMap((r) => r.ttftCdf.map(([v]) => v)).filter((v) => v > 0);
  const lo = Math.pow(10, Math.floor(Math.log10(Math.max(1e-3, Math.min(...all, 1)))));
  const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(...all, 10))));
  const x = (v: number) =>
    cx + (Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo)) * cw;
  const y = (q: number) => cy + ch - q * ch;
  out.push(`<rect x="${cx}" y="${cy}" width="${cw}" height="${ch}" fill="none" stroke="#999"/>`);
  for (let d = lo; d <= hi * 1.0001; d *= 10) {
    out.push(
      `<line x1="${x(d).toFixed(1)}" y1="${cy}" x2="${x(d).toFixed(1)}" y2="${
        cy + ch
      }" stroke="#e5e5e5"/>`,
      `<text x="${x(d).toFixed(1)}" y="${cy + ch + 16}" text-anchor="middle">${
        d >= 1 ? d : d.toPrecision(1)
      }</text>`,
    );
  }
  for (const q of [0, 0.25, 0.5, 0.75, 0.9, 1]) {
    out.push(
      `<line x1="${cx}" y1="${y(q).toFixed(1)}" x2="${cx + cw}" y2="${
        y(q).toFixed(1)
      }" stroke="#eee"/>`,
      `<text x="${cx - 6}" y="${(y(q) + 4).toFixed(1)}" text-anchor="end">${q}</text>`,
    );
  }
  out.push(
    `<text x="${cx + cw / 2}" y="${cy + ch + 36}" text-anchor="middle">TTFT, ms (log scale)</text>`,
    `<text x="18" y="${cy + ch / 2}" transform="rotate(-90 18 ${
      cy + ch / 2
    })" text-anchor="middle">share of requests</text>`,
  );
  runs.forEach((r, i) => {
    const color = COLORS[i % COLORS.length]!;
    const pts = r.ttftCdf.map(([v, q]) => `${x(v).toFixed(1)},${y(q).toFixed(1)}`).join(" ");
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts}"/>`);
    // The legend sits bottom right, where CDFs rising from the left leave room.
    const ly = cy + ch - 10 - (runs.length - 1 - i) * 17;
    const lx = cx + cw - (ref === undefined ? 205 : 330);
    const label = ref === undefined
      ? `${esc(r.strategy)} (mean ${r.ttftMs.mean.toFixed(0)} ms)`
      : `${esc(r.strategy)}: mean ${r.ttftMs.mean.toFixed(0)} ms${
        r === ref
          ? " (reference)"
          : ` = ${rel(r.ttftMs.mean, ref.ttftMs.mean)}, p99 ${rel(r.ttftMs.p99, ref.ttftMs.p99)}`
      }`;
    out.push(
      `<line x1="${lx}" y1="${ly - 4}" x2="${lx + 20}" y2="${
        ly - 4
      }" stroke="${color}" stroke-width="3"/>`,
      `<text x="${lx + 25}" y="${ly}">${label}</text>`,
    );
    if (ref !== undefined && i === 0) {
      out.push(
        `<text x="${lx}" y="${ly - 20}" fill="#555">TTFT against ${
          esc(ref.strategy)
        }, turnpike's default (1.00x)</text>`,
      );
    }
  });
  // Right: hit rate bars.
  const bx = 720, by = 70, bw = 350, bh = 340;
  const ceil = options.ceiling;
  const top = Math.max(ceil, ...runs.map((r) => r.hitRate), 0.1) * 1.1;
  const yb = (v: number) => by + bh - (v / top) * bh;
  const crowded = options.reachable !== undefined &&
    Math.abs(yb(options.reachable) - yb(ceil)) < 16;
  out.push(`<rect x="${bx}" y="${by}" width="${bw}" height="${bh}" fill="none" stroke="#999"/>`);
  for (let t = 0; t <= top; t += 0.1) {
    out.push(
      `<line x1="${bx}" y1="${yb(t).toFixed(1)}" x2="${bx + bw}" y2="${
        yb(t).toFixed(1)
      }" stroke="#eee"/>`,
      `<text x="${bx - 6}" y="${(yb(t) + 4).toFixed(1)}" text-anchor="end">${
        Math.round(t * 100)
      }%</text>`,
    );
  }
  const slot = bw / Math.max(1, runs.length);
  runs.forEach((r, i) => {
    const color = COLORS[i % COLORS.length]!;
    const x0 = bx + i * slot + slot * 0.15;
    const w = slot * 0.7;
    // The GPU's hits at the bottom, those loaded from the host tier lighter on top.
    const yLocal = yb(r.localHitRate);
    out.push(
      `<rect x="${x0.toFixed(1)}" y="${yLocal.toFixed(1)}" width="${w.toFixed(1)}" height="${
        (by + bh - yLocal).toFixed(1)
      }" fill="${color}"/>`,
      `<rect x="${x0.toFixed(1)}" y="${yb(r.hitRate).toFixed(1)}" width="${w.toFixed(1)}" height="${
        Math.max(0, yLocal - yb(r.hitRate)).toFixed(1)
      }" fill="${color}" fill-opacity="0.45"/>`,
      // Inside the bar's top when it is tall enough, so it never meets the lines' labels above.
      `<text x="${(x0 + w / 2).toFixed(1)}" y="${
        (by + bh - yb(r.hitRate) >= BAR_LABEL_INSIDE_PX ? yb(r.hitRate) + 14 : yb(r.hitRate) - 4)
          .toFixed(1)
      }" text-anchor="middle">${(r.hitRate * 100).toFixed(0)}%${
        ref !== undefined && r !== ref ? ` ${rel(r.hitRate, ref.hitRate)}` : ""
      }</text>`,
      `<text x="${(x0 + w / 2).toFixed(1)}" y="${
        by + bh + 14
      }" text-anchor="end" transform="rotate(-35 ${(x0 + w / 2).toFixed(1)} ${by + bh + 14})">${
        esc(r.strategy)
      }</text>`,
    );
  });
  out.push(
    `<line x1="${bx}" y1="${yb(ceil).toFixed(1)}" x2="${bx + bw}" y2="${
      yb(ceil).toFixed(1)
    }" stroke="#000" stroke-dasharray="6 4" stroke-width="1.5"/>`,
    // Close to the perfect-affinity line, the ceiling's label moves to the left end.
    `<text x="${crowded ? bx + 4 : bx + bw - 4}" y="${(yb(ceil) - 6).toFixed(1)}" text-anchor="${
      crowded ? "start" : "end"
    }">ideal ceiling ${(ceil * 100).toFixed(0)}%</text>`,
    `<text x="${bx + bw / 2}" y="${by - 10}" text-anchor="middle">${
      runs.some((r) => r.externalHitRate > 0)
        ? "prefix-cache hit rate (lighter: loaded from the host tier)"
        : "prefix-cache hit rate (replica counters)"
    }</text>`,
  );
  if (options.reachable !== undefined) {
    const r = yb(options.reachable).toFixed(1);
    // Above both lines, at the right end, when the two lines are close.
    const labelY = crowded ? yb(ceil) - 6 : Number(r) - 6;
    out.push(
      `<line x1="${bx}" y1="${r}" x2="${
        bx + bw
      }" y2="${r}" stroke="#c00" stroke-dasharray="3 3" stroke-width="1.5"/>`,
      `<text x="${
        bx + bw - 4
      }" y="${labelY}" text-anchor="end" fill="#c00">perfect affinity with this KV size ${
        (options.reachable * 100).toFixed(0)
      }%</text>`,
    );
  }
  out.push("</svg>");
  return out.join("\n");
}
