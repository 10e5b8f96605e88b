/** The terminal dashboard's keys: bytes read from a raw-mode terminal, turned into key names. */

/** A key the dashboard acts on. */
export type Key =
  | "tab"
  | "backtab"
  | "up"
  | "down"
  | "pageup"
  | "pagedown"
  | "home"
  | "end"
  | "enter"
  | "quit";

/** Escape sequences (xterm, tmux) and the keys they are. */
const SEQUENCES: ReadonlyArray<[string, Key]> = [
  ["\x1b[A", "up"],
  ["\x1bOA", "up"],
  ["\x1b[B", "down"],
  ["\x1bOB", "down"],
  ["\x1b[Z", "backtab"],
  ["\x1b[5~", "pageup"],
  ["\x1b[6~", "pagedown"],
  ["\x1b[H", "home"],
  ["\x1b[1~", "home"],
  ["\x1bOH", "home"],
  ["\x1b[F", "end"],
  ["\x1b[4~", "end"],
  ["\x1bOF", "end"],
];

/** Single bytes and the keys they are; Ctrl-C is a quit since raw mode turns off its signal. */
const SINGLE: Readonly<Record<string, Key>> = {
  "\t": "tab",
  "j": "down",
  "k": "up",
  "g": "home",
  "G": "end",
  "\r": "enter",
  "\n": "enter",
  "q": "quit",
  "Q": "quit",
  "\x03": "quit",
  "\x04": "quit",
};

/**
 * The keys in one read's text. A lone ESC (nothing after it in the same read) is Esc, which
 * quits; an escape sequence the dashboard does not use is skipped whole, as are other bytes.
 */
export function parseKeys(text: string): Key[] {
  const keys: Key[] = [];
  let i = 0;
  while (i < text.length) {
    if (text[i] === "\x1b") {
      if (i === text.length - 1) {
        keys.push("quit");
        i++;
        continue;
      }
      const match = SEQUENCES.find(([seq]) => text.startsWith(seq, i));
      if (match) {
        keys.push(match[1]);
        i += match[0].length;
        continue;
      }
      // An unknown CSI/SS3 sequence: skip to its final byte (0x40-0x7e).
      let j = i + 1;
      if (text[j] === "[" || text[j] === "O") {
        j++;
        while (j < text.length && !/[\x40-\x7e]/.test(text[j]!)) j++;
        i = j + 1;
      } else {
        // ESC then an ordinary key (Alt+key, or Esc pressed just before it): Esc quits.
        keys.push("quit");
        i++;
      }
      continue;
    }
    const key = SINGLE[text[i]!];
    if (key) keys.push(key);
    i++;
  }
  return keys;
}
