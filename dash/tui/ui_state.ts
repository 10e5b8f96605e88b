/** The terminal dashboard's own state (panel, selected row, expanded rows) and how keys change it. */
import type { Key } from "./keys.ts";
import { PANEL_IDS, type PanelId, type ViewModel } from "../view_model.ts";

/** What the user chose to look at. */
export interface UiState {
  /** The index of the panel shown, in {@linkcode PANEL_IDS}. */
  panel: number;
  /** The selected row's key per panel (a key, not an index, so it follows its row across polls). */
  selected: Partial<Record<PanelId, string>>;
  /** Expanded rows, as `panel/key`. */
  expanded: ReadonlySet<string>;
}

/** The state on start: the backends panel, nothing selected or expanded. */
export function initialUi(): UiState {
  return { panel: 0, selected: {}, expanded: new Set() };
}

/** The id of the panel shown. */
export function panelOf(ui: UiState): PanelId {
  return PANEL_IDS[ui.panel] ?? "backends";
}

/** The index of the selected row in the panel shown (the first row when none or gone). */
export function selectedIndex(ui: UiState, vm: ViewModel): number {
  const panel = vm.panels.find((p) => p.id === panelOf(ui));
  if (!panel || panel.rows.length === 0) return -1;
  const key = ui.selected[panel.id];
  const i = panel.rows.findIndex((r) => r.key === key);
  return i < 0 ? 0 : i;
}

/** How many rows `pageup` and `pagedown` move. */
const PAGE_ROWS = 10;

/** `ui` after `key` on `vm`; `"quit"` for q, Esc or Ctrl-C. */
export function applyKey(ui: UiState, key: Key, vm: ViewModel): UiState | "quit" {
  const count = PANEL_IDS.length;
  switch (key) {
    case "quit":
      return "quit";
    case "tab":
      return { ...ui, panel: (ui.panel + 1) % count };
    case "backtab":
      return { ...ui, panel: (ui.panel + count - 1) % count };
  }
  const id = panelOf(ui);
  const rows = vm.panels.find((p) => p.id === id)?.rows ?? [];
  if (rows.length === 0) return ui;
  const at = selectedIndex(ui, vm);
  if (key === "enter") {
    const row = `${id}/${rows[at]!.key}`;
    const expanded = new Set(ui.expanded);
    if (expanded.has(row)) expanded.delete(row);
    else expanded.add(row);
    return { ...ui, selected: { ...ui.selected, [id]: rows[at]!.key }, expanded };
  }
  const moves: Record<Exclude<Key, "quit" | "tab" | "backtab" | "enter">, number> = {
    up: at - 1,
    down: at + 1,
    pageup: at - PAGE_ROWS,
    pagedown: at + PAGE_ROWS,
    home: 0,
    end: rows.length - 1,
  };
  const next = Math.min(rows.length - 1, Math.max(0, moves[key]));
  return { ...ui, selected: { ...ui.selected, [id]: rows[next]!.key } };
}
