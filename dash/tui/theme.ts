/** The terminal dashboard's colours, as ANSI 256-colour escapes, for dark and light terminals. */
import type { Tone } from "../view_model.ts";

/** `dark` or `light`. */
export const THEME_NAMES = ["dark", "light"] as const;

/** A theme's name. */
export type ThemeName = typeof THEME_NAMES[number];

/** SGR parameters per role. */
export interface Theme {
  tones: Record<Tone, string>;
  /** The title bar. */
  bar: string;
  /** The panel tab shown, and the selected row. */
  active: string;
  /** Column headings and the help line. */
  heading: string;
}

const THEMES: Record<ThemeName, Theme> = {
  dark: {
    tones: { ok: "38;5;114", warn: "38;5;221", bad: "38;5;203", muted: "38;5;245", plain: "39" },
    bar: "48;5;236;38;5;255;1",
    active: "7",
    heading: "38;5;75;1",
  },
  light: {
    tones: { ok: "38;5;28", warn: "38;5;130", bad: "38;5;160", muted: "38;5;244", plain: "39" },
    bar: "48;5;254;38;5;232;1",
    active: "7",
    heading: "38;5;25;1",
  },
};

/** The theme named `name`. */
export function themeOf(name: ThemeName): Theme {
  return THEMES[name];
}

/** `text` wrapped in the SGR `params` and a reset. */
export function paint(params: string, text: string): string {
  return `\x1b[${params}m${text}\x1b[0m`;
}
