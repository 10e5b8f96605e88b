/**
 * Who a request comes from: its `Authorization: Bearer` (or `x-api-key`) credential checked as the
 * admin key, an API key (from memory, see {@linkcode KeyCache}) or a JWT.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { AuthConfig } from "../../config/auth_schema.ts";
import {
  type ApiKeyRecord,
  type CreatedKey,
  KeyStore,
  type NewKey,
  parseKey,
  verifySecret,
} from "./api_keys.ts";
import { KeyCache } from "./key_cache.ts";
import { credentialOf } from "./credentials.ts";
import { JwtVerifier } from "./jwt.ts";
import type { Principal } from "./principal.ts";

/** The outcome of {@linkcode Authenticator.authenticate}. */
export type AuthOutcome =
  | { ok: true; principal: Principal }
  /** `missing`: no credential was sent; `invalid`: one was, and it is no good; `unavailable`: it cannot be checked now. */
  | { ok: false; reason: "missing" | "invalid" | "unavailable"; message: string };

/** Options of {@linkcode Authenticator.start}. */
export interface AuthenticatorOptions {
  /** Environment the admin key is read from (`auth.admin_key_env`). @default the process environment */
  env?: (name: string) => string | undefined;
  /** Clock in ms since the epoch. @default Date.now */
  now?: () => number;
}

const ADMIN: Principal = {
  kind: "admin",
  clientId: "admin",
  credentialId: "admin",
  models: "*",
  priority: undefined,
  priorityHeader: true,
  limits: {},
  admin: true,
};

function sha256(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

/** The principal of an API key record. */
export function keyPrincipal(record: ApiKeyRecord, config: Pick<AuthConfig, "default_priority">) {
  const { requests_per_minute: rpm, tokens_per_minute: tpm, max_concurrent: concurrent } =
    record.limits;
  const principal: Principal = {
    kind: "key",
    clientId: record.client_id,
    credentialId: record.id,
    models: record.models,
    priority: record.priority ?? config.default_priority,
    priorityHeader: record.priority_header,
    limits: {
      ...(rpm === null ? {} : { requestsPerMinute: rpm }),
      ...(tpm === null ? {} : { tokensPerMinute: tpm }),
      ...(concurrent === null ? {} : { maxConcurrent: concurrent }),
    },
    admin: false,
  };
  return principal;
}

/**
 * The admin key `auth` names: the value of `admin_key_env` when that variable is set and not
 * empty, else `admin_key`.
 */
export function adminKeyOf(
  auth: Pick<AuthConfig, "admin_key" | "admin_key_env">,
  env: (name: string) => string | undefined = (name) => Deno.env.get(name),
): string | undefined {
  const fromEnv = auth.admin_key_env === undefined ? undefined : env(auth.admin_key_env);
  return fromEnv || auth.admin_key;
}

/** Checks credentials as `auth:` says; also makes and revokes the API keys. */
export class Authenticator {
  /** The `auth:` settings. */
  readonly config: AuthConfig;
  /** The API keys in KV. */
  readonly keys: KeyStore;
  /** The API keys in memory. */
  readonly cache: KeyCache;
  /** Whether the admin key is set. */
  readonly hasAdminKey: boolean;
  /** Whether JWTs are accepted. */
  readonly hasJwt: boolean;
  /**
   * An `Authorization` value for the gateway's own calls to itself (session summaries): a random
   * token that lives only in this process.
   */
  readonly internalAuthorization: string;
  readonly #adminDigest: Buffer | undefined;
  readonly #internalDigest: Buffer;
  readonly #jwt: JwtVerifier | undefined;
  readonly #principals = new WeakMap<ApiKeyRecord, Principal>();

  private constructor(config: AuthConfig, kv: Deno.Kv, parts: {
    adminKey: string | undefined;
    jwt: JwtVerifier | undefined;
    now: () => number;
  }) {
    this.config = config;
    this.keys = new KeyStore(kv, { now: parts.now });
    this.cache = new KeyCache(this.keys, { refreshMs: config.key_refresh_interval * 1000 });
    this.hasAdminKey = parts.adminKey !== undefined;
    this.hasJwt = parts.jwt !== undefined;
    this.#adminDigest = parts.adminKey === undefined ? undefined : sha256(parts.adminKey);
    const internal = `tp-internal-${randomBytes(32).toString("base64url")}`;
    this.internalAuthorization = `Bearer ${internal}`;
    this.#internalDigest = sha256(internal);
    this.#jwt = parts.jwt;
  }

  /**
   * Starts checking credentials for `config` over the keys in `kv`: loads the keys, reads the
   * admin key and the JWT key. Throws `AuthSetupError` when one is unusable.
   */
  static async start(
    config: AuthConfig,
    kv: Deno.Kv,
    options: AuthenticatorOptions = {},
  ): Promise<Authenticator> {
    const jwt = config.enabled && config.jwt
      ? await JwtVerifier.create(config.jwt, {
        defaultPriority: config.default_priority,
        priorityHeader: config.priority_header,
        ...(options.now ? { now: options.now } : {}),
      })
      : undefined;
    const auth = new Authenticator(config, kv, {
      adminKey: adminKeyOf(config, options.env),
      jwt,
      now: options.now ?? Date.now,
    });
    await auth.cache.start();
    return auth;
  }

  /** Whether requests must carry credentials. */
  get enabled(): boolean {
    return this.config.enabled;
  }

  /**
   * The principal `request`'s credential proves, or why there is none. Synchronous for the admin
   * key and for an API key in memory; a JWT, or a key made since the last reload, is awaited.
   */
  authenticate(request: Request): AuthOutcome | Promise<AuthOutcome> {
    const credential = credentialOf(request);
    if (credential === undefined) {
      return {
        ok: false,
        reason: "missing",
        message:
          "Missing API key: send it as `Authorization: Bearer <key>` or `x-api-key: <key>` " +
          "(`deno task keys create` makes one)",
      };
    }
    if (credential === "") {
      return {
        ok: false,
        reason: "invalid",
        message: "The Authorization header must be `Bearer <key or token>`",
      };
    }
    const digest = sha256(credential);
    if (this.#adminDigest && timingSafeEqual(digest, this.#adminDigest)) {
      return { ok: true, principal: ADMIN };
    }
    if (timingSafeEqual(digest, this.#internalDigest)) return { ok: true, principal: ADMIN };
    const key = parseKey(credential);
    if (key) {
      const record = this.cache.cached(key.id);
      if (record === undefined) {
        return this.cache.lookup(key.id).then((found) => this.#checkKey(found, key.secret));
      }
      return this.#checkKey(record ?? undefined, key.secret);
    }
    if (this.#jwt && credential.split(".").length === 3) {
      return this.#jwt.verify(credential).then((checked) =>
        checked.ok ? checked : {
          ok: false,
          reason: checked.status === 503 ? "unavailable" : "invalid",
          message: checked.message,
        }
      );
    }
    return {
      ok: false,
      reason: "invalid",
      message: this.#jwt
        ? "Invalid API key or token: it is neither a turnpike key (tp-...) nor a JWT"
        : "Invalid API key: turnpike keys look like tp-<id>-<secret>",
    };
  }

  #checkKey(record: ApiKeyRecord | undefined, secret: string): AuthOutcome {
    if (!record || !verifySecret(record, secret)) {
      return { ok: false, reason: "invalid", message: "Invalid API key" };
    }
    if (record.revoked_at !== null) {
      return {
        ok: false,
        reason: "invalid",
        message: `The API key ${record.id} was revoked at ${record.revoked_at}; ask for a new one`,
      };
    }
    let principal = this.#principals.get(record);
    if (!principal) {
      principal = keyPrincipal(record, this.config);
      this.#principals.set(record, principal);
    }
    return { ok: true, principal };
  }

  /** Makes a key (see {@linkcode KeyStore.create}); it works in this process at once. */
  async createKey(grant: NewKey): Promise<CreatedKey> {
    const created = await this.keys.create(grant);
    this.cache.put(created.record);
    return created;
  }

  /** Revokes key `id` (see {@linkcode KeyStore.revoke}); refused in this process at once. */
  async revokeKey(id: string): Promise<ApiKeyRecord | undefined> {
    const revoked = await this.keys.revoke(id);
    if (revoked) this.cache.put(revoked);
    return revoked;
  }

  /** Stops reloading the keys. */
  close(): Promise<void> {
    return this.cache.close();
  }
}
