/**
 * The terminal dashboard's loop: polls the gateway, redraws on every poll, key and resize, and
 * gives the terminal back (cooked mode, main screen) on quit, on signals and on uncaught errors.
 */
import { httpGetter } from "../feed.ts";
import { Poller } from "../poller.ts";
import { viewModel } from "../view_model.ts";
import { parseKeys } from "./keys.ts";
import { renderFrame } from "./render.ts";
import { Screen, terminalSize } from "./screen.ts";
import { type ThemeName, themeOf } from "./theme.ts";
import { applyKey, initialUi } from "./ui_state.ts";

/** Options of {@linkcode runDashboard}. */
export interface DashboardOptions {
  /** The gateway's base URL. */
  proxyUrl: string;
  /** Time between polls, in ms. */
  intervalMs: number;
  theme: ThemeName;
  /** Sent as `Authorization: Bearer` when the gateway has auth on. */
  adminKey?: string;
}

/** Signals that end the dashboard, with the exit code each gives (128 + its number). */
const ENDING_SIGNALS: ReadonlyArray<[Deno.Signal, number]> = [
  ["SIGINT", 130],
  ["SIGTERM", 143],
  ["SIGHUP", 129],
];

/** Runs the dashboard until q, Esc, Ctrl-C or the end of input; resolves to the exit code. */
export async function runDashboard(options: DashboardOptions): Promise<number> {
  if (!Deno.stdin.isTerminal()) {
    console.error("deno task dash needs a terminal: its standard input is not a TTY");
    return 2;
  }
  const screen = new Screen();
  const theme = themeOf(options.theme);
  const poller = new Poller(
    httpGetter(options.proxyUrl, options.adminKey ? { adminKey: options.adminKey } : {}),
    { intervalMs: options.intervalMs, onUpdate: () => draw() },
  );
  let ui = initialUi();
  let vm = viewModel(poller.state, Date.now());
  function draw(): void {
    vm = viewModel(poller.state, Date.now());
    const { columns, rows } = terminalSize();
    screen.draw(renderFrame(vm, ui, {
      width: columns,
      height: rows,
      theme,
      proxyUrl: options.proxyUrl,
      intervalS: options.intervalMs / 1000,
    }));
  }
  const fatal = (error: unknown) => {
    screen.restore();
    console.error("deno task dash stopped on an error:", error);
    Deno.exit(1);
  };
  const onError = (event: ErrorEvent) => {
    event.preventDefault();
    fatal(event.error);
  };
  const onRejection = (event: PromiseRejectionEvent) => {
    event.preventDefault();
    fatal(event.reason);
  };
  const onSignal = ENDING_SIGNALS.map(([signal, code]) => {
    const handler = () => {
      screen.restore();
      Deno.exit(code);
    };
    Deno.addSignalListener(signal, handler);
    return [signal, handler] as const;
  });
  globalThis.addEventListener("error", onError);
  globalThis.addEventListener("unhandledrejection", onRejection);
  Deno.addSignalListener("SIGWINCH", draw);
  // Redraws between polls too, so "retry in Ns" counts down while disconnected.
  const ticker = setInterval(draw, 1_000);
  try {
    screen.enter();
    draw();
    poller.start();
    const buffer = new Uint8Array(256);
    const decoder = new TextDecoder();
    for (;;) {
      const n = await Deno.stdin.read(buffer);
      if (n === null) return 0;
      for (const key of parseKeys(decoder.decode(buffer.subarray(0, n)))) {
        const next = applyKey(ui, key, vm);
        if (next === "quit") return 0;
        ui = next;
      }
      draw();
    }
  } finally {
    clearInterval(ticker);
    poller.stop();
    Deno.removeSignalListener("SIGWINCH", draw);
    for (const [signal, handler] of onSignal) Deno.removeSignalListener(signal, handler);
    globalThis.removeEventListener("error", onError);
    globalThis.removeEventListener("unhandledrejection", onRejection);
    screen.restore();
  }
}
