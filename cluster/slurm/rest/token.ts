/**
 * The JWT slurmrestd checks (`X-SLURM-USER-TOKEN`): a fixed token from config, or one that
 * `token_command` prints (`scontrol token lifespan=3600` prints `SLURM_JWT=...`), run through the
 * cluster's shell and run again before the token expires.
 */
import { decodeJwt } from "jose";
import type { Shell } from "../types.ts";

/** Where tokens come from: `cluster.slurm.rest`'s token keys. */
export interface TokenConfig {
  token?: string | undefined;
  token_command?: string | undefined;
  /** Seconds a fetched token lives when it carries no `exp`. @default 3600 */
  token_lifespan?: number | undefined;
}

/** Hands out a valid token, fetching a new one when the last is near its expiry. */
export class TokenSource {
  readonly #config: TokenConfig;
  readonly #shell: Shell;
  readonly #now: () => number;
  #current: { token: string; refreshAtMs: number; expiresAtMs: number } | undefined;
  #fetching: Promise<string> | undefined;
  #fetches = 0;

  /** @param shell runs `token_command` (on the login node when SSH is set) */
  constructor(config: TokenConfig, shell: Shell, options: { now?: () => number } = {}) {
    this.#config = config;
    this.#shell = shell;
    this.#now = options.now ?? Date.now;
  }

  /** Whether requests carry a token at all (not over a rest_auth/local unix socket). */
  get enabled(): boolean {
    return this.#config.token !== undefined || this.#config.token_command !== undefined;
  }

  /** How many times `token_command` ran. */
  get fetches(): number {
    return this.#fetches;
  }

  /** A token that is not near its expiry. */
  async get(): Promise<string> {
    const now = this.#now();
    if (this.#config.token !== undefined) {
      const expires = expiryMs(this.#config.token);
      if (expires !== undefined && expires <= now) {
        throw new Error(
          `cluster.slurm.rest.token expired at ${new Date(expires).toISOString()}: ` +
            `give a new one, or set token_command to fetch tokens as they expire`,
        );
      }
      return this.#config.token;
    }
    if (this.#current && now < this.#current.refreshAtMs) return this.#current.token;
    this.#fetching ??= this.#fetch().finally(() => this.#fetching = undefined);
    return await this.#fetching;
  }

  /** Forgets the fetched token (slurmrestd refused it), so the next {@linkcode get} fetches. */
  invalidate(): void {
    this.#current = undefined;
  }

  async #fetch(): Promise<string> {
    const command = this.#config.token_command;
    if (command === undefined) throw new Error("cluster.slurm.rest has no token or token_command");
    const result = await this.#shell.exec(["sh", "-c", command]);
    this.#fetches++;
    const token = parseTokenOutput(result.stdout);
    if (result.code !== 0 || token === undefined) {
      throw new Error(
        `cluster.slurm.rest.token_command "${command}" on ${this.#shell.where} ` +
          `${result.code === 0 ? "printed no token" : `exited ${result.code}`}: ` +
          (result.stderr.trim() || result.stdout.trim()).slice(0, 300),
      );
    }
    const now = this.#now();
    const expiresAtMs = expiryMs(token) ?? now + (this.#config.token_lifespan ?? 3600) * 1000;
    // Refresh once four fifths of its life have passed (at most 5 minutes before the end).
    const margin = Math.min(300_000, (expiresAtMs - now) / 5);
    this.#current = { token, expiresAtMs, refreshAtMs: expiresAtMs - margin };
    return token;
  }
}

/** The token in `scontrol token`'s output (`SLURM_JWT=...`), or a bare token on its own line. */
export function parseTokenOutput(stdout: string): string | undefined {
  const jwt = /(?:^|\s)SLURM_JWT=(\S+)/.exec(stdout);
  if (jwt?.[1]) return jwt[1];
  const lines = stdout.split("\n").map((line) => line.trim()).filter((line) => line !== "");
  const last = lines.at(-1);
  return last !== undefined && /^[\w.-]+$/.test(last) ? last : undefined;
}

/** The `exp` of a JWT in ms, or undefined when it has none or is not a JWT. */
export function expiryMs(token: string): number | undefined {
  try {
    const exp = decodeJwt(token).exp;
    return exp === undefined ? undefined : exp * 1000;
  } catch {
    return undefined;
  }
}
