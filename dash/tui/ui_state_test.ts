import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { recordedSnapshot } from "../_fixtures.ts";
import { emptyHistory } from "../history.ts";
import { afterSnapshot } from "../poller.ts";
import { PANEL_IDS, viewModel } from "../view_model.ts";
import { applyKey, initialUi, panelOf, selectedIndex, type UiState } from "./ui_state.ts";

async function vm() {
  const start = {
    connection: { state: "connecting" as const },
    snapshot: undefined,
    history: emptyHistory(),
  };
  return viewModel(afterSnapshot(start, await recordedSnapshot(1_000)), 1_000);
}

function press(
  ui: UiState,
  keys: Parameters<typeof applyKey>[1][],
  model: Awaited<ReturnType<typeof vm>>,
) {
  for (const key of keys) {
    const next = applyKey(ui, key, model);
    if (next === "quit") throw new Error("quit");
    ui = next;
  }
  return ui;
}

Deno.test("applyKey(): Tab and Shift-Tab cycle through every panel", async () => {
  const model = await vm();
  let ui = initialUi();
  const seen = [panelOf(ui)];
  for (let i = 0; i < PANEL_IDS.length; i++) {
    ui = press(ui, ["tab"], model);
    seen.push(panelOf(ui));
  }
  assertEquals(seen, [...PANEL_IDS, "backends"]);
  assertEquals(panelOf(press(initialUi(), ["backtab"], model)), "jobs");
});

Deno.test("applyKey(): j/k move within the rows, Enter expands and collapses the selected row", async () => {
  const model = await vm();
  let ui = press(initialUi(), ["down", "down", "down"], model);
  assertEquals(selectedIndex(ui, model), 1);
  ui = press(ui, ["up", "up"], model);
  assertEquals(selectedIndex(ui, model), 0);
  ui = press(ui, ["down", "enter"], model);
  assertEquals([...ui.expanded], ["backends/llama-3.1-8b-sim/127.0.0.1:33551"]);
  ui = press(ui, ["enter"], model);
  assertEquals([...ui.expanded], []);
  assertEquals(applyKey(ui, "quit", model), "quit");
});
