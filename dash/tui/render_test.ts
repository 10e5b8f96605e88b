import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { recordedSnapshot } from "../_fixtures.ts";
import { emptyHistory } from "../history.ts";
import { afterSnapshot } from "../poller.ts";
import { viewModel } from "../view_model.ts";
import { columnWidths, renderFrame, wrap } from "./render.ts";
import { themeOf } from "./theme.ts";
import { applyKey, initialUi, type UiState } from "./ui_state.ts";

// deno-lint-ignore no-control-regex
const plain = (line: string) => line.replace(/\x1b\[[0-9;]*m/g, "");

async function frame(
  width: number,
  height: number,
  ui: (vm: ReturnType<typeof viewModel>) => UiState,
) {
  const start = {
    connection: { state: "connecting" as const },
    snapshot: undefined,
    history: emptyHistory(),
  };
  const vm = viewModel(afterSnapshot(start, await recordedSnapshot(1_000)), 1_000);
  return renderFrame(vm, ui(vm), {
    width,
    height,
    theme: themeOf("dark"),
    proxyUrl: "http://127.0.0.1:5800",
    intervalS: 2,
  }).map(plain);
}

Deno.test("renderFrame() draws exactly the terminal's height, no line wider than it", async () => {
  for (const [width, height] of [[160, 48], [80, 24], [40, 10], [20, 3]] as const) {
    const lines = await frame(width, height, () => initialUi());
    assertEquals(lines.length, height);
    for (const line of lines) assert([...line].length <= width, `${width}: "${line}"`);
  }
});

Deno.test("renderFrame() shows the backends with the selection, and an expanded row's detail", async () => {
  const lines = await frame(160, 30, (vm) => {
    const next = applyKey(initialUi(), "enter", vm);
    return next === "quit" ? initialUi() : next;
  });
  const text = lines.join("\n");
  assert(lines[0]!.includes("turnpike dash  http://127.0.0.1:5800  every 2s"), lines[0]);
  assert(lines[0]!.endsWith("connected"), lines[0]);
  assert(text.includes("▾ 127.0.0.1:46185  llama-3.1-8b-sim  healthy"), text);
  assert(text.includes("url http://127.0.0.1:46185  source launched"), text);
  assert(text.includes("▸ 127.0.0.1:33551  llama-3.1-8b-sim  down/open"), text);
  assert(lines.at(-1)!.includes("q/Esc quit"));
});

Deno.test("renderFrame() says in a panel that its endpoint is absent", async () => {
  const lines = await frame(120, 20, () => ({ ...initialUi(), panel: 5 }));
  assert(
    lines.some((l) => l.includes("GET /api/jobs is not on this gateway (404)")),
    lines.join("\n"),
  );
});

Deno.test("renderFrame() colours the tones of the theme asked for", async () => {
  const start = {
    connection: { state: "connecting" as const },
    snapshot: undefined,
    history: emptyHistory(),
  };
  const vm = viewModel(afterSnapshot(start, await recordedSnapshot(1_000)), 1_000);
  const options = { width: 160, height: 20, proxyUrl: "http://x", intervalS: 2 };
  const light = renderFrame(vm, initialUi(), { ...options, theme: themeOf("light") }).join("\n");
  const dark = renderFrame(vm, initialUi(), { ...options, theme: themeOf("dark") }).join("\n");
  const has = (text: string, code: string) =>
    text.includes(`\x1b[${code};`) || text.includes(`\x1b[${code}m`);
  assert(has(light, "38;5;28") && !has(light, "38;5;114"));
  assert(has(dark, "38;5;114") && !has(dark, "38;5;28"));
});

Deno.test("wrap() breaks at spaces within the width", () => {
  assertEquals(wrap("aa bb cc dd", 5), ["aa bb", "cc dd"]);
  assertEquals(wrap("abcdefgh", 3), ["abcdefgh"]);
});

Deno.test("columnWidths() takes each column's widest cell and narrows the widest ones to fit", () => {
  const panel = {
    columns: ["a", "cause", "recommendation"],
    rows: [{
      key: "1",
      cells: ["x", "c".repeat(50), "r".repeat(60)],
      tone: "plain" as const,
      detail: [],
    }],
  };
  assertEquals(columnWidths(panel, 200), [1, 50, 60]);
  assertEquals(columnWidths(panel, 80), [1, 37, 38]);
  assertEquals(columnWidths(panel, 10), [1, 12, 12]);
});
