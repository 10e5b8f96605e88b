/** Graceful stop on SIGINT/SIGTERM: stop intake, drain with a deadline, flush, close KV. */
import type { ActorSystem } from "./system.ts";

/** Options of {@linkcode installShutdownHandlers}. */
export interface ShutdownHandlerOptions {
  /** How long mailboxes may drain, in ms. @default 5000 */
  deadlineMs?: number;
  /** Signals to handle. @default ["SIGINT", "SIGTERM"] */
  signals?: Deno.Signal[];
  /** Runs first: stop accepting work (close HTTP listeners, stop pollers). */
  stopIntake?: () => void | Promise<void>;
  /** Exit the process when done. @default true */
  exit?: boolean;
  /** Where progress lines go. @default console.error */
  log?: (line: string) => void;
}

/** What {@linkcode installShutdownHandlers} returns. */
export interface ShutdownHandlers {
  /** Removes the signal listeners. */
  remove(): void;
  /** Runs the same stop sequence as a signal would; resolves when done. */
  stop(reason: string): Promise<void>;
}

/** Installs signal handlers that stop `system` gracefully, then exit with 0 (or 1 on error). */
export function installShutdownHandlers(
  system: ActorSystem,
  options: ShutdownHandlerOptions = {},
): ShutdownHandlers {
  const signals = options.signals ?? ["SIGINT", "SIGTERM"];
  const log = options.log ?? ((line: string) => console.error(line));
  let running: Promise<void> | undefined;
  const stop = (reason: string): Promise<void> => {
    running ??= (async () => {
      remove();
      const started = performance.now();
      log(`turnpike: ${reason}, stopping (drain deadline ${options.deadlineMs ?? 5_000} ms)`);
      let code = 0;
      try {
        await options.stopIntake?.();
        await system.shutdown({ deadlineMs: options.deadlineMs ?? 5_000 });
        log(`turnpike: stopped in ${Math.round(performance.now() - started)} ms`);
      } catch (error) {
        code = 1;
        log(`turnpike: stop failed: ${error instanceof Error ? error.message : String(error)}`);
      }
      if (options.exit ?? true) Deno.exit(code);
    })();
    return running;
  };
  const handlers = signals.map((signal) => {
    const handler = () => void stop(`received ${signal}`);
    Deno.addSignalListener(signal, handler);
    return { signal, handler };
  });
  function remove(): void {
    for (const { signal, handler } of handlers) Deno.removeSignalListener(signal, handler);
    handlers.length = 0;
  }
  return { remove, stop };
}
