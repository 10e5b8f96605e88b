/**
 * Bearer JWTs: signatures checked against a PEM public key or a JWKS URL (cached, refetched for an
 * unknown `kid`), `exp`/`nbf`/`iss`/`aud` checked with the configured clock skew, and the grants
 * read from the configured claims.
 */
import {
  createRemoteJWKSet,
  errors,
  importSPKI,
  type JWTHeaderParameters,
  type JWTPayload,
  jwtVerify,
} from "jose";
import { z } from "zod";
import type { JwtConfig } from "../../config/auth_schema.ts";
import { type Principal, PRIORITY_CLASSES, type PriorityClass } from "./principal.ts";

/** The outcome of checking a token: its principal, or why it was refused. */
export type TokenCheck =
  | { ok: true; principal: Principal }
  | { ok: false; status: 401 | 503; message: string };

/** Options of {@linkcode JwtVerifier.create}. */
export interface JwtVerifierOptions {
  /** The class of a token without the priority claim (`auth.default_priority`). */
  defaultPriority?: PriorityClass | undefined;
  /** Whether a token without the `priority_header` claim may choose its class (`auth.priority_header`). */
  priorityHeader?: boolean;
  /** Clock in ms since the epoch. @default Date.now */
  now?: () => number;
  /** Verified tokens kept, so a token sent again is not verified again. @default 10000 */
  cacheSize?: number;
}

/** `auth:` settings that cannot be used as they are (an unreadable key file): the message names the config path. */
export class AuthSetupError extends Error {
  /** @param message what is wrong, starting with the config path */
  constructor(message: string) {
    super(message);
    this.name = "AuthSetupError";
  }
}

/** A token verified once is trusted again without a signature check for at most this long. */
const CACHE_MS = 60_000;

const LimitsClaim = z.object({
  requests_per_minute: z.number().int().positive().optional(),
  tokens_per_minute: z.number().int().positive().optional(),
  max_concurrent: z.number().int().positive().optional(),
});

type KeyResolver = (header: JWTHeaderParameters) => Promise<CryptoKey> | CryptoKey;

function isUnavailable(error: unknown): boolean {
  // A JWKS that cannot be fetched is the gateway's trouble, not the caller's.
  return error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid ||
    !(error instanceof errors.JOSEError) || error.code === errors.JOSEError.code;
}

/** Checks bearer JWTs as `auth.jwt` says. */
export class JwtVerifier {
  readonly #config: JwtConfig;
  readonly #key: KeyResolver;
  readonly #options: JwtVerifierOptions;
  readonly #now: () => number;
  readonly #cacheSize: number;
  readonly #cache = new Map<string, { principal: Principal; untilMs: number }>();

  private constructor(config: JwtConfig, key: KeyResolver, options: JwtVerifierOptions) {
    this.#config = config;
    this.#key = key;
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#cacheSize = options.cacheSize ?? 10_000;
  }

  /**
   * A verifier for `config`: reads and imports `public_key_file` for each configured algorithm it
   * fits, or sets up the JWKS URL. Throws {@linkcode AuthSetupError} when the key is unusable.
   */
  static async create(config: JwtConfig, options: JwtVerifierOptions = {}): Promise<JwtVerifier> {
    if (config.jwks_url !== undefined) {
      const jwks = createRemoteJWKSet(new URL(config.jwks_url), {
        cooldownDuration: config.jwks_cooldown * 1000,
        cacheMaxAge: config.jwks_cache_max_age * 1000,
      });
      return new JwtVerifier(config, (header) => jwks(header), options);
    }
    const file = config.public_key_file!;
    let pem: string;
    try {
      pem = await Deno.readTextFile(file);
    } catch (error) {
      throw new AuthSetupError(
        `auth.jwt.public_key_file: cannot read "${file}" (${
          error instanceof Error ? error.message : String(error)
        }); give a readable PEM public key`,
      );
    }
    const keys = new Map<string, CryptoKey>();
    for (const alg of config.algorithms) {
      try {
        keys.set(alg, await importSPKI(pem, alg));
      } catch {
        // The key fits another of the configured algorithms (an RSA key is no ES256 key).
      }
    }
    if (keys.size === 0) {
      throw new AuthSetupError(
        `auth.jwt.public_key_file: "${file}" holds no SPKI public key ("-----BEGIN PUBLIC KEY-----") ` +
          `for ${config.algorithms.join(", ")}; give such a key or change auth.jwt.algorithms`,
      );
    }
    return new JwtVerifier(config, (header) => {
      const key = keys.get(header.alg);
      if (!key) throw new errors.JOSEAlgNotAllowed(`"alg" ${header.alg} does not fit the key`);
      return key;
    }, options);
  }

  /** Checks `token`; a token verified in the last minute and not yet expired is not checked again. */
  async verify(token: string): Promise<TokenCheck> {
    const now = this.#now();
    const hit = this.#cache.get(token);
    if (hit && now < hit.untilMs) return { ok: true, principal: hit.principal };
    if (hit) this.#cache.delete(token);
    const config = this.#config;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.#key, {
        algorithms: config.algorithms,
        clockTolerance: config.clock_tolerance,
        currentDate: new Date(now),
        ...(config.issuer === undefined ? {} : { issuer: config.issuer }),
        ...(config.audience === undefined ? {} : { audience: config.audience }),
      }));
    } catch (error) {
      if (isUnavailable(error)) {
        return {
          ok: false,
          status: 503,
          message: `Cannot fetch the token signing keys from auth.jwt.jwks_url (${
            error instanceof Error ? error.message : String(error)
          }); retry later`,
        };
      }
      return { ok: false, status: 401, message: `Invalid token: ${(error as Error).message}` };
    }
    const principal = this.#principalOf(payload);
    if (typeof principal === "string") {
      return { ok: false, status: 401, message: `Invalid token: ${principal}` };
    }
    const untilMs = Math.min(
      now + CACHE_MS,
      payload.exp === undefined ? Infinity : payload.exp * 1000,
    );
    if (this.#cacheSize > 0) {
      const oldest = this.#cache.keys().next();
      if (this.#cache.size >= this.#cacheSize && !oldest.done) this.#cache.delete(oldest.value);
      this.#cache.set(token, { principal, untilMs });
    }
    return { ok: true, principal };
  }

  /** The principal the claims grant, or what is wrong with them. */
  #principalOf(payload: JWTPayload): Principal | string {
    const names = this.#config.claims;
    const clientId = payload[names.client_id];
    if (typeof clientId !== "string" || clientId === "") {
      return `the "${names.client_id}" claim (the client id) must be a non-empty string`;
    }
    const models = modelsOf(payload[names.models]);
    if (models === undefined) {
      return `the "${names.models}" claim must be "*", a list of model names or a space-separated string`;
    }
    const rawPriority = payload[names.priority];
    if (rawPriority !== undefined && !PRIORITY_CLASSES.includes(rawPriority as PriorityClass)) {
      return `the "${names.priority}" claim must be one of ${PRIORITY_CLASSES.join(", ")}`;
    }
    const header = payload[names.priority_header];
    if (header !== undefined && typeof header !== "boolean") {
      return `the "${names.priority_header}" claim must be true or false`;
    }
    const limits = LimitsClaim.safeParse(payload[names.limits] ?? {});
    if (!limits.success) {
      return `the "${names.limits}" claim must be an object of positive integers ` +
        "(requests_per_minute, tokens_per_minute, max_concurrent)";
    }
    const { requests_per_minute: rpm, tokens_per_minute: tpm, max_concurrent: concurrent } =
      limits.data;
    return {
      kind: "jwt",
      clientId,
      credentialId: typeof payload.jti === "string" ? payload.jti : clientId,
      models,
      priority: (rawPriority as PriorityClass | undefined) ?? this.#options.defaultPriority,
      priorityHeader: header ?? this.#options.priorityHeader ?? false,
      limits: {
        ...(rpm === undefined ? {} : { requestsPerMinute: rpm }),
        ...(tpm === undefined ? {} : { tokensPerMinute: tpm }),
        ...(concurrent === undefined ? {} : { maxConcurrent: concurrent }),
      },
      admin: false,
    };
  }
}

/** The models a claim grants: absent and `"*"` are all; undefined when the claim is malformed. */
function modelsOf(claim: unknown): readonly string[] | "*" | undefined {
  if (claim === undefined || claim === "*") return "*";
  if (typeof claim === "string") return claim.split(/\s+/).filter((m) => m !== "");
  if (Array.isArray(claim) && claim.every((m) => typeof m === "string" && m !== "")) {
    return claim.includes("*") ? "*" : claim as string[];
  }
  return undefined;
}
