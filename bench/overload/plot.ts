/** The overload benchmark's picture: goodput and p99 TTFT against offered load, as SVG (and PNG where a converter is installed). */

/** One curve's points: offered load (a multiple of capacity) with its figures. */
export interface PlotSeries {
  label: string;
  points: { load: number; goodputPerS: number; ttftP99Ms: number }[];
}

/** Options of {@linkcode renderOverloadSvg}. */
export interface OverloadSvgOptions {
  /** A line under the title: replicas, time scale, prompt size. */
  subtitle: string;
  /** The measured capacity in requests per second. */
  capacityPerS: number;
  /** The p99 TTFT at the reference load, in ms (the target is twice it). */
  referenceTtftP99Ms: number | undefined;
  /** The reference load, a multiple of capacity. */
  referenceLoad: number | undefined;
}

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e"];
const W = 1100;
const H = 480;

function esc(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

interface Panel {
  x: number;
  y: number;
  w: number;
  h: number;
}

function axes(out: string[], p: Panel, xTicks: number[], px: (v: number) => number): void {
  out.push(
    `<rect x="${p.x}" y="${p.y}" width="${p.w}" height="${p.h}" fill="none" stroke="#999"/>`,
  );
  for (const t of xTicks) {
    out.push(
      `<line x1="${px(t).toFixed(1)}" y1="${p.y}" x2="${px(t).toFixed(1)}" y2="${
        p.y + p.h
      }" stroke="#eee"/>`,
      `<text x="${px(t).toFixed(1)}" y="${p.y + p.h + 16}" text-anchor="middle">${t}x</text>`,
    );
  }
  out.push(
    `<text x="${p.x + p.w / 2}" y="${
      p.y + p.h + 36
    }" text-anchor="middle">offered load (multiple of capacity)</text>`,
  );
}

/**
 * Draws goodput (left, linear, with the capacity and its 90% line) and p99 TTFT of admitted
 * requests (right, log scale, with twice the reference) against offered load, one curve a series.
 */
export function renderOverloadSvg(
  series: readonly PlotSeries[],
  options: OverloadSvgOptions,
): string {
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="20" y="26" font-size="17" font-weight="bold">Overload: goodput and p99 time to first token against offered load</text>`,
    `<text x="20" y="46" fill="#555">${esc(options.subtitle)}</text>`,
  ];
  const loads = series.flatMap((s) => s.points.map((p) => p.load));
  const maxLoad = Math.max(1, ...loads) * 1.05;
  const xTicks = [...new Set([0.5, 1, 1.5, 2, 2.5, 3, ...loads])].filter((t) => t <= maxLoad)
    .sort((a, b) => a - b);
  const legend = (p: Panel) =>
    series.forEach((s, i) => {
      const color = COLORS[i % COLORS.length]!;
      const ly = p.y + 16 + i * 17;
      out.push(
        `<line x1="${p.x + 10}" y1="${ly - 4}" x2="${p.x + 30}" y2="${
          ly - 4
        }" stroke="${color}" stroke-width="3"/>`,
        `<text x="${p.x + 35}" y="${ly}">${esc(s.label)}</text>`,
      );
    });

  // Left: goodput.
  const g: Panel = { x: 70, y: 70, w: 440, h: 340 };
  const gx = (v: number) => g.x + v / maxLoad * g.w;
  const top =
    Math.max(options.capacityPerS, ...series.flatMap((s) => s.points.map((p) => p.goodputPerS))) *
    1.2;
  const gy = (v: number) => g.y + g.h - v / top * g.h;
  axes(out, g, xTicks, gx);
  for (let i = 0; i <= 5; i++) {
    const v = top * i / 5;
    out.push(
      `<line x1="${g.x}" y1="${gy(v).toFixed(1)}" x2="${g.x + g.w}" y2="${
        gy(v).toFixed(1)
      }" stroke="#eee"/>`,
      `<text x="${g.x - 6}" y="${(gy(v) + 4).toFixed(1)}" text-anchor="end">${v.toFixed(1)}</text>`,
    );
  }
  for (const [share, dash] of [[1, "6 4"], [0.9, "3 3"]] as const) {
    const y = gy(options.capacityPerS * share).toFixed(1);
    out.push(
      `<line x1="${g.x}" y1="${y}" x2="${
        g.x + g.w
      }" y2="${y}" stroke="#000" stroke-dasharray="${dash}"/>`,
      `<text x="${g.x + g.w - 4}" y="${Number(y) - 4}" text-anchor="end">${
        share === 1 ? "capacity" : "90% of capacity"
      }</text>`,
    );
  }
  out.push(
    `<text x="18" y="${g.y + g.h / 2}" transform="rotate(-90 18 ${
      g.y + g.h / 2
    })" text-anchor="middle">goodput, successful requests/s</text>`,
  );
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!;
    const pts = s.points.map((p) => `${gx(p.load).toFixed(1)},${gy(p.goodputPerS).toFixed(1)}`);
    out.push(
      `<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.join(" ")}"/>`,
    );
    for (const pt of pts) {
      const [x, y] = pt.split(",");
      out.push(`<circle cx="${x}" cy="${y}" r="3" fill="${color}"/>`);
    }
  });
  legend(g);

  // Right: p99 TTFT, log scale.
  const t: Panel = { x: 620, y: 70, w: 440, h: 340 };
  const tx = (v: number) => t.x + v / maxLoad * t.w;
  const values = series.flatMap((s) => s.points.map((p) => p.ttftP99Ms)).filter((v) =>
    v > 0 && Number.isFinite(v)
  );
  if (options.referenceTtftP99Ms !== undefined) values.push(2 * options.referenceTtftP99Ms);
  const lo = Math.pow(10, Math.floor(Math.log10(Math.max(1, Math.min(...values, 100)))));
  const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(...values, 1_000))));
  const ty = (v: number) =>
    t.y + t.h - (Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo)) *
      t.h;
  axes(out, t, xTicks, tx);
  for (let d = lo; d <= hi * 1.0001; d *= 10) {
    out.push(
      `<line x1="${t.x}" y1="${ty(d).toFixed(1)}" x2="${t.x + t.w}" y2="${
        ty(d).toFixed(1)
      }" stroke="#eee"/>`,
      `<text x="${t.x - 6}" y="${(ty(d) + 4).toFixed(1)}" text-anchor="end">${d}</text>`,
    );
  }
  if (options.referenceTtftP99Ms !== undefined) {
    const y = ty(2 * options.referenceTtftP99Ms).toFixed(1);
    out.push(
      `<line x1="${t.x}" y1="${y}" x2="${
        t.x + t.w
      }" y2="${y}" stroke="#000" stroke-dasharray="6 4"/>`,
      `<text x="${t.x + t.w - 4}" y="${
        Number(y) - 4
      }" text-anchor="end">target: 2x p99 at ${options.referenceLoad}x load</text>`,
    );
  }
  out.push(
    `<text x="${t.x - 50}" y="${t.y + t.h / 2}" transform="rotate(-90 ${t.x - 50} ${
      t.y + t.h / 2
    })" text-anchor="middle">p99 TTFT of admitted requests, ms (log)</text>`,
  );
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!;
    const pts = s.points.filter((p) => Number.isFinite(p.ttftP99Ms)).map((p) =>
      `${tx(p.load).toFixed(1)},${ty(p.ttftP99Ms).toFixed(1)}`
    );
    out.push(
      `<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.join(" ")}"/>`,
    );
    for (const pt of pts) {
      const [x, y] = pt.split(",");
      out.push(`<circle cx="${x}" cy="${y}" r="3" fill="${color}"/>`);
    }
  });
  legend(t);
  out.push("</svg>");
  return out.join("\n");
}

/**
 * Converts `svgPath` to a PNG beside it with ImageMagick or rsvg-convert, whichever is installed;
 * answers the PNG's path, or undefined when neither is.
 */
export async function renderPng(svgPath: string): Promise<string | undefined> {
  const pngPath = svgPath.replace(/\.svg$/, ".png");
  for (
    const [binary, args] of [
      ["rsvg-convert", ["-o", pngPath, svgPath]],
      ["convert", [svgPath, pngPath]],
    ] as const
  ) {
    try {
      const out = await new Deno.Command(binary, {
        args: [...args],
        stdout: "null",
        stderr: "null",
      })
        .output();
      if (out.success) return pngPath;
    } catch {
      // Not installed.
    }
  }
  return undefined;
}
