/** The terminal the dashboard draws on: raw mode and the alternate screen, always given back. */

const encoder = new TextEncoder();

/** Writes all of `text` to stdout synchronously (a signal handler or an exit may not wait). */
function writeAll(text: string): void {
  const bytes = encoder.encode(text);
  let written = 0;
  while (written < bytes.length) written += Deno.stdout.writeSync(bytes.subarray(written));
}

/** The terminal's size, or 80x24 when it cannot tell. */
export function terminalSize(): { columns: number; rows: number } {
  try {
    const { columns, rows } = Deno.consoleSize();
    return columns > 0 && rows > 0 ? { columns, rows } : { columns: 80, rows: 24 };
  } catch {
    return { columns: 80, rows: 24 };
  }
}

/** Raw mode and the alternate screen while entered; {@linkcode Screen.restore} is safe to call any number of times. */
export class Screen {
  #active = false;

  /** Raw mode (keys arrive one by one, unechoed), the alternate screen, the cursor hidden. */
  enter(): void {
    Deno.stdin.setRaw(true);
    this.#active = true;
    writeAll("\x1b[?1049h\x1b[?25l\x1b[2J");
  }

  /** Draws `lines` from the top, each on a cleared line, by absolute position (no wrapping). */
  draw(lines: readonly string[]): void {
    if (!this.#active) return;
    let out = "";
    lines.forEach((line, i) => out += `\x1b[${i + 1};1H\x1b[2K${line}`);
    writeAll(`${out}\x1b[0m\x1b[J`);
  }

  /** Cooked mode, the main screen and the cursor back. */
  restore(): void {
    if (!this.#active) return;
    this.#active = false;
    try {
      Deno.stdin.setRaw(false);
    } finally {
      writeAll("\x1b[0m\x1b[?25h\x1b[?1049l");
    }
  }
}
