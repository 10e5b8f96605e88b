/**
 * The terminal dashboard's frame: a pure function from the view model, the UI state and the
 * terminal's size to exactly `height` lines, none wider than `width` columns.
 */
import type { Panel, Row, ViewModel } from "../view_model.ts";
import { sparkline } from "./sparkline.ts";
import { paint, type Theme } from "./theme.ts";
import { panelOf, selectedIndex, type UiState } from "./ui_state.ts";

/** Options of {@linkcode renderFrame}. */
export interface FrameOptions {
  width: number;
  height: number;
  theme: Theme;
  /** The gateway's URL, for the title bar. */
  proxyUrl: string;
  intervalS: number;
}

/** Columns of each sparkline beside a backend. */
const SPARK_WIDTH = 20;
/** The narrowest a column is made to fit the table in the terminal. */
const MIN_COLUMN = 12;

/** `text` cut or padded to exactly `width` columns (every character drawn here is one column wide). */
export function fit(text: string, width: number): string {
  const chars = [...text];
  if (chars.length > width) {
    return width <= 1 ? chars.slice(0, width).join("") : `${chars.slice(0, width - 1).join("")}…`;
  }
  return text + " ".repeat(width - chars.length);
}

/** `text` broken at spaces into lines of at most `width` columns (a longer word is cut by {@linkcode fit}). */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && [...line].length + 1 + [...word].length > width) {
      lines.push(line);
      line = word;
    } else line = line === "" ? word : `${line} ${word}`;
  }
  lines.push(line);
  return lines;
}

/** A piece of a line in one style (null: the terminal's own). */
interface Segment {
  text: string;
  style: string | null;
}

/** Styled segments cut to `width` columns in all. */
function fitSegments(segments: readonly Segment[], width: number): string {
  let left = width;
  let out = "";
  for (const { text, style } of segments) {
    if (left <= 0) break;
    const length = [...text].length;
    const piece = length > left ? fit(text, left) : text;
    left -= Math.min(length, left);
    out += style === null ? piece : paint(style, piece);
  }
  return out;
}

/**
 * Each column's width: its widest cell, then, while the table is wider than `room`, the widest
 * column loses a column at a time, down to {@linkcode MIN_COLUMN} (the rest is cut at the edge).
 */
export function columnWidths(panel: Pick<Panel, "columns" | "rows">, room: number): number[] {
  const widths = panel.columns.map((c, i) =>
    Math.max([...c].length, ...panel.rows.map((r) => [...(r.cells[i] ?? "")].length))
  );
  const gaps = 2 * Math.max(0, widths.length - 1);
  let total = widths.reduce((a, b) => a + b, 0) + gaps;
  while (total > room) {
    const widest = widths.indexOf(Math.max(...widths));
    if (widths[widest]! <= MIN_COLUMN) break;
    widths[widest]!--;
    total--;
  }
  return widths;
}

function tableLine(cells: readonly string[], widths: readonly number[]): string {
  return widths.map((w, i) => fit(cells[i] ?? "", w)).join("  ");
}

function sparkCells(row: Row): string {
  const sparks = row.sparks;
  if (!sparks) return "";
  return Object.keys(sparks).map((label) => sparkline(sparks[label] ?? [], SPARK_WIDTH)).join("  ");
}

function sparkHeadings(panel: Panel): string {
  const labels = Object.keys(panel.rows[0]?.sparks ?? {});
  return labels.map((l) => fit(l, SPARK_WIDTH)).join("  ");
}

/** The panel's lines: headings, then each row (and its detail when expanded), the selection marked. */
function panelLines(panel: Panel, ui: UiState, vm: ViewModel, options: FrameOptions, room: number) {
  const { theme, width } = options;
  const summary = panel.summary.flatMap((line) => wrap(line, width - 2)).map((l) =>
    fit(`  ${l}`, width)
  );
  if (panel.rows.length === 0) {
    return {
      head: summary,
      body: [paint(theme.tones.muted, fit(`  ${panel.note ?? "nothing to show"}`, width))],
    };
  }
  const sparkHead = sparkHeadings(panel);
  const widths = columnWidths(panel, width - 2 - (sparkHead ? [...sparkHead].length + 2 : 0));
  const head = [
    ...summary,
    paint(
      theme.heading,
      fit(`  ${tableLine(panel.columns, widths)}${sparkHead ? `  ${sparkHead}` : ""}`, width),
    ),
  ];
  const selected = selectedIndex(ui, vm);
  const body: string[] = [];
  let selectedLine = 0;
  panel.rows.forEach((row, i) => {
    const open = ui.expanded.has(`${panel.id}/${row.key}`);
    const sparks = sparkCells(row);
    const text = fit(
      `${open ? "▾" : "▸"} ${tableLine(row.cells, widths)}${sparks ? `  ${sparks}` : ""}`,
      width,
    );
    if (i === selected) selectedLine = body.length;
    body.push(
      paint(
        i === selected ? `${theme.tones[row.tone]};${theme.active}` : theme.tones[row.tone],
        text,
      ),
    );
    if (open) {
      for (const line of row.detail) {
        body.push(paint(theme.tones.muted, fit(`      ${line}`, width)));
      }
    }
  });
  // Scroll so that the selected row shows, with as much as fits after it.
  const start = Math.max(0, Math.min(selectedLine - Math.floor(room / 3), body.length - room));
  return { head, body: body.slice(start, start + Math.max(0, room - head.length)) };
}

/** The frame's lines, exactly `options.height` of them. */
export function renderFrame(vm: ViewModel, ui: UiState, options: FrameOptions): string[] {
  const { width, height, theme } = options;
  const time = new Date(vm.atMs).toISOString().slice(11, 19);
  const title = ` turnpike dash  ${options.proxyUrl}  every ${options.intervalS}s  ${time} UTC `;
  const lines: string[] = [
    fitSegments([
      { text: title, style: theme.bar },
      { text: " ", style: null },
      { text: vm.connection.text, style: `${theme.tones[vm.connection.tone]};1` },
    ], width),
    ...vm.header.map((h) => fit(` ${h}`, width)),
  ];
  const active = panelOf(ui);
  const tabs = vm.panels.flatMap((p): Segment[] => [
    { text: " ", style: null },
    {
      text: ` ${p.title}${p.rows.length > 0 ? ` (${p.rows.length})` : ""} `,
      style: p.id === active ? theme.active : null,
    },
  ]);
  lines.push(fitSegments(tabs, width), "");
  const help = paint(
    theme.heading,
    fit(" Tab/Shift-Tab panel  j/k ↑/↓ move  Enter expand/collapse  q/Esc quit", width),
  );
  const panel = vm.panels.find((p) => p.id === active) ?? vm.panels[0];
  const room = height - lines.length - 1;
  if (panel && room > 0) {
    const { head, body } = panelLines(panel, ui, vm, options, room);
    lines.push(...head, ...body);
  }
  const frame = lines.slice(0, Math.max(0, height - 1));
  while (frame.length < height - 1) frame.push("");
  if (height > 0) frame.push(help);
  return frame;
}
