/** Sparklines: a series drawn with the eight block characters, scaled from 0 to its maximum. */

const BLOCKS = "▁▂▃▄▅▆▇█";

/**
 * The newest `width` values of `values` as a sparkline (a null is a space), padded on the left
 * to `width`. The scale runs from 0 to the largest value shown, so an idle series is flat.
 */
export function sparkline(values: readonly (number | null)[], width: number): string {
  const shown = values.slice(Math.max(0, values.length - width));
  const max = Math.max(0, ...shown.filter((v): v is number => v !== null));
  const chars = shown.map((v) => {
    if (v === null) return " ";
    if (max === 0) return BLOCKS[0];
    const level = Math.round((Math.max(0, v) / max) * (BLOCKS.length - 1));
    return BLOCKS[level];
  });
  return " ".repeat(width - chars.length) + chars.join("");
}
