/** Whether the gateway may listen where it is told to with auth as configured, and the line `serve` prints about it. */
import type { Authenticator } from "./authenticator.ts";

/** Whether `host` is a loopback interface: only this machine can reach it. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  if (bare === "localhost" || bare === "::1" || bare === "0:0:0:0:0:0:0:1") return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}

/** What `serve` does about auth: start, with a line to print, or refuse with a message. */
export type Exposure = { ok: true; notice: string | undefined } | { ok: false; message: string };

/** Options of {@linkcode exposureOf}. */
export interface ExposureOptions {
  /** `auth.enabled`. */
  authEnabled: boolean;
  /** The interface the gateway is to listen on. */
  host: string;
  /** `--insecure`: listen on a non-loopback interface with auth off all the same. */
  insecure: boolean;
}

/**
 * Whether the gateway may listen on `options.host`: with auth off only a loopback interface, unless
 * `insecure`; with auth on anywhere.
 */
export function exposureOf(options: ExposureOptions): Exposure {
  if (options.authEnabled) return { ok: true, notice: undefined };
  if (isLoopbackHost(options.host)) {
    return {
      ok: true,
      notice: "Auth is off: anyone on this machine may call the gateway " +
        "(set auth.enabled: true to require API keys)",
    };
  }
  if (options.insecure) {
    return {
      ok: true,
      notice: `Auth is off and the gateway listens on ${options.host} (--insecure): ` +
        "anyone who can reach it may call the models and the admin API",
    };
  }
  return {
    ok: false,
    message: `Refusing to listen on ${options.host} with auth off: anyone who can reach it could ` +
      "call the models and the admin API. Set auth.enabled: true (and make keys with " +
      "`deno task keys create`), listen on 127.0.0.1, or pass --insecure",
  };
}

/** The line `serve` prints when auth is on: what is accepted, and how many keys exist. */
export function authSummary(auth: Authenticator): string {
  const keys = auth.cache.activeCount();
  const jwt = auth.config.jwt;
  const parts = [
    `${keys} API key${keys === 1 ? "" : "s"}`,
    ...(jwt ? [`JWTs signed by ${jwt.jwks_url ?? jwt.public_key_file}`] : []),
    auth.hasAdminKey ? "admin key set" : "no admin key (the admin routes refuse every caller)",
  ];
  return `Auth is on: ${parts.join(", ")}`;
}
