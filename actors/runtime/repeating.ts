/** A job run again and again, each run `intervalMs` after the last one ended, until stopped: the gateway's syncs with KV. */
import { errorField, logger } from "./log.ts";

/** Options of {@linkcode Repeating}. */
export interface RepeatingOptions {
  /** Time from the end of one run to the start of the next, in ms. */
  intervalMs: number;
  /** What the job does, for the log line of a failed run (e.g. "read the API keys from KV"). */
  what: string;
  /** A failed run is logged at most once this often, in ms. @default 10_000 */
  quietMs?: number;
  /** Whether the timer keeps the process alive. @default true */
  keepsAlive?: boolean;
  /** Clock in ms. @default Date.now */
  now?: () => number;
}

/**
 * Runs `job` every `intervalMs` (after the previous run, so runs never overlap) once
 * {@linkcode start}ed. A failed run is logged as `cannot <what>` at most once per `quietMs` while
 * failures go on; the next run retries. {@linkcode stop} ends it: a run under way finishes, and no
 * new one starts.
 */
export class Repeating {
  readonly #job: () => Promise<void>;
  readonly #options: RepeatingOptions;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  #lastError = Number.NEGATIVE_INFINITY;

  /** @param job one run; @param options its interval and log line */
  constructor(job: () => Promise<void>, options: RepeatingOptions) {
    this.#job = job;
    this.#options = options;
  }

  /** Schedules the first run one interval from now. */
  start(): void {
    this.#stopped = false;
    this.#schedule();
  }

  /** Cancels the next run. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): void {
    if (this.#stopped) return;
    const timer = setTimeout(async () => {
      try {
        await this.#job();
      } catch (error) {
        const now = (this.#options.now ?? Date.now)();
        if (!this.#stopped && now - this.#lastError >= (this.#options.quietMs ?? 10_000)) {
          this.#lastError = now;
          logger.error(`cannot ${this.#options.what}`, { error: errorField(error) });
        }
      }
      this.#schedule();
    }, this.#options.intervalMs);
    if (this.#options.keepsAlive === false) Deno.unrefTimer(timer);
    this.#timer = timer;
  }
}
