/**
 * Graceful stop on SIGINT/SIGTERM for every command: stop intake, drain with a deadline, flush,
 * close KV. The one place turnpike listens for a stop signal.
 */
import { logger } from "./log.ts";

/** What a stop signal shuts down: an `ActorSystem`, or any service given the same method. */
export interface Stoppable {
  /** Stops, letting work in flight finish within `deadlineMs`. */
  shutdown(options: { deadlineMs: number }): Promise<void>;
}

/** Options of {@linkcode installShutdownHandlers}. */
export interface ShutdownHandlerOptions {
  /** How long mailboxes may drain, in ms. @default 5000 */
  deadlineMs?: number;
  /** Signals to handle. @default ["SIGINT", "SIGTERM"] */
  signals?: Deno.Signal[];
  /** Runs first: stop accepting work (close HTTP listeners, stop pollers). */
  stopIntake?: () => void | Promise<void>;
  /**
   * Exit the process when done. A command that returns its exit code passes false and awaits
   * {@linkcode ShutdownHandlers.stopped}. @default true
   */
  exit?: boolean;
  /** Where progress lines go. @default the process logger, at info */
  log?: (line: string) => void;
}

/** What {@linkcode installShutdownHandlers} returns. */
export interface ShutdownHandlers {
  /** Removes the signal listeners. */
  remove(): void;
  /** Runs the same stop sequence as a signal would; resolves when done. */
  stop(reason: string): Promise<void>;
  /** Resolves to the exit code (0, or 1 when the stop failed) once a stop has run. */
  readonly stopped: Promise<number>;
}

/**
 * Installs signal handlers that stop `target` gracefully (once, however many signals come), then
 * exit with 0, or 1 on error.
 *
 * @example
 * ```ts
 * const handlers = installShutdownHandlers({ shutdown: (o) => gateway.close(o) }, { exit: false });
 * return await handlers.stopped;
 * ```
 */
export function installShutdownHandlers(
  target: Stoppable,
  options: ShutdownHandlerOptions = {},
): ShutdownHandlers {
  const signals = options.signals ?? ["SIGINT", "SIGTERM"];
  const log = options.log ?? ((line: string) => logger.info(line));
  const deadlineMs = options.deadlineMs ?? 5_000;
  const stopped = Promise.withResolvers<number>();
  let running: Promise<void> | undefined;
  const stop = (reason: string): Promise<void> => {
    running ??= (async () => {
      remove();
      const started = performance.now();
      log(`turnpike: ${reason}, stopping (drain deadline ${deadlineMs} ms)`);
      let code = 0;
      try {
        await options.stopIntake?.();
        await target.shutdown({ deadlineMs });
        log(`turnpike: stopped in ${Math.round(performance.now() - started)} ms`);
      } catch (error) {
        code = 1;
        log(`turnpike: stop failed: ${error instanceof Error ? error.message : String(error)}`);
      }
      stopped.resolve(code);
      if (options.exit ?? true) {
        await logger.flush();
        Deno.exit(code);
      }
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
  return { remove, stop, stopped: stopped.promise };
}
