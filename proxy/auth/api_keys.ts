/**
 * API keys: their `tp-<id>-<secret>` format, the salted hash KV keeps instead of the secret, and
 * the store in KV the gateway, the admin API and `deno task keys` share.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import { PRIORITY_CLASSES, type PriorityClass } from "./principal.ts";

/** Every API key starts with it. */
export const KEY_PREFIX = "tp-";
/** KV key prefix of the key records. */
export const KEYS_PREFIX: Deno.KvKey = ["auth", "keys"];
/** KV key summed on every change of a key, so other processes see that they must reload. */
export const KEYS_VERSION: Deno.KvKey = ["auth", "keys_version"];

const ID_PATTERN = /^[0-9a-f]{16}$/;
const SECRET_BYTES = 32;
const SALT_BYTES = 16;

const count = z.number().int().positive().nullable();

/** The limits a key carries; null is the configured default. */
export const KeyLimitsSchema = z.object({
  requests_per_minute: count,
  tokens_per_minute: count,
  max_concurrent: count,
});
/** A key's limits. */
export type KeyLimits = z.infer<typeof KeyLimitsSchema>;

/** A key as KV stores it: its grants and the salted SHA-256 of its secret, never the secret. */
export const ApiKeyRecordSchema = z.object({
  id: z.string().regex(ID_PATTERN),
  name: z.string(),
  client_id: z.string().min(1),
  models: z.union([z.literal("*"), z.array(z.string().min(1))]),
  priority: z.enum(PRIORITY_CLASSES).nullable(),
  priority_header: z.boolean(),
  limits: KeyLimitsSchema,
  created_at: z.string(),
  revoked_at: z.string().nullable(),
  hash: z.object({
    algorithm: z.literal("sha256"),
    salt: z.string().min(1),
    digest: z.string().min(1),
  }),
});
/** A stored key. */
export type ApiKeyRecord = z.infer<typeof ApiKeyRecordSchema>;

/** A key's public fields: what `GET /api/keys` and `keys list` show. */
export type ApiKeyView = Omit<ApiKeyRecord, "hash">;

/** What a new key grants. */
export interface NewKey {
  /** A label for people. */
  name: string;
  /** The client id its requests count against. */
  clientId: string;
  /** The models it may call. @default "*" */
  models?: readonly string[] | "*";
  /** Its priority class; the configured default when absent. */
  priority?: PriorityClass | undefined;
  /** Whether its requests may choose their class by the priority header. @default false */
  priorityHeader?: boolean;
  /** Its own limits; absent fields are the configured defaults. */
  limits?: { [K in keyof KeyLimits]?: number | undefined };
}

/** A key just made: the full key, shown once, and its record. */
export interface CreatedKey {
  /** `tp-<id>-<secret>`: the only time the secret exists outside the caller. */
  key: string;
  record: ApiKeyRecord;
}

/** The id and secret of a string that looks like an API key, or undefined. */
export function parseKey(text: string): { id: string; secret: string } | undefined {
  if (!text.startsWith(KEY_PREFIX)) return undefined;
  const dash = text.indexOf("-", KEY_PREFIX.length);
  if (dash < 0) return undefined;
  const id = text.slice(KEY_PREFIX.length, dash);
  const secret = text.slice(dash + 1);
  if (!ID_PATTERN.test(id) || secret.length === 0) return undefined;
  return { id, secret };
}

function digestOf(salt: Buffer, secret: string): Buffer {
  return createHash("sha256").update(salt).update(secret).digest();
}

/**
 * Whether `secret` is `record`'s, compared in constant time. The secret is 32 random bytes, so one
 * salted SHA-256 suffices: a slow password hash guards guessable secrets, and would cost every
 * request.
 */
export function verifySecret(record: ApiKeyRecord, secret: string): boolean {
  const expected = Buffer.from(record.hash.digest, "base64url");
  const actual = digestOf(Buffer.from(record.hash.salt, "base64url"), secret);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/** `record` without its hash. */
export function keyView(record: ApiKeyRecord): ApiKeyView {
  const { hash: _hash, ...view } = record;
  return view;
}

/** The key records in KV, shared by every gateway process and `deno task keys` on the file. */
export class KeyStore {
  readonly #kv: Deno.Kv;
  readonly #now: () => number;

  /** @param kv the gateway's KV store; @param options.now clock in ms since the epoch */
  constructor(kv: Deno.Kv, options: { now?: () => number } = {}) {
    this.#kv = kv;
    this.#now = options.now ?? Date.now;
  }

  /** Makes a key granting `grant` and stores its record; the full key is returned once. */
  async create(grant: NewKey): Promise<CreatedKey> {
    const id = randomBytes(8).toString("hex");
    const secret = randomBytes(SECRET_BYTES).toString("base64url");
    const salt = randomBytes(SALT_BYTES);
    const record: ApiKeyRecord = {
      id,
      name: grant.name,
      client_id: grant.clientId,
      models: grant.models === undefined || grant.models === "*" ? "*" : [...grant.models],
      priority: grant.priority ?? null,
      priority_header: grant.priorityHeader ?? false,
      limits: {
        requests_per_minute: grant.limits?.requests_per_minute ?? null,
        tokens_per_minute: grant.limits?.tokens_per_minute ?? null,
        max_concurrent: grant.limits?.max_concurrent ?? null,
      },
      created_at: new Date(this.#now()).toISOString(),
      revoked_at: null,
      hash: {
        algorithm: "sha256",
        salt: salt.toString("base64url"),
        digest: digestOf(salt, secret).toString("base64url"),
      },
    };
    const result = await this.#kv.atomic()
      .check({ key: [...KEYS_PREFIX, id], versionstamp: null })
      .set([...KEYS_PREFIX, id], record)
      .sum(KEYS_VERSION, 1n)
      .commit();
    if (!result.ok) throw new Error(`API key id ${id} is taken; create the key again`);
    return { key: `${KEY_PREFIX}${id}-${secret}`, record };
  }

  /** The record of key `id`, or undefined. */
  async get(id: string): Promise<ApiKeyRecord | undefined> {
    const entry = await this.#kv.get([...KEYS_PREFIX, id]);
    return entry.value === null ? undefined : ApiKeyRecordSchema.parse(entry.value);
  }

  /** Every key record, revoked ones included, oldest first. */
  async list(): Promise<ApiKeyRecord[]> {
    const records: ApiKeyRecord[] = [];
    for await (const entry of this.#kv.list({ prefix: KEYS_PREFIX })) {
      records.push(ApiKeyRecordSchema.parse(entry.value));
    }
    return records.sort((a, b) => a.created_at.localeCompare(b.created_at));
  }

  /**
   * Revokes key `id` (its record stays, with `revoked_at`); resolves to the record, undefined when
   * there is no such key. Revoking a revoked key changes nothing.
   */
  async revoke(id: string): Promise<ApiKeyRecord | undefined> {
    for (;;) {
      const entry = await this.#kv.get([...KEYS_PREFIX, id]);
      if (entry.value === null) return undefined;
      const record = ApiKeyRecordSchema.parse(entry.value);
      if (record.revoked_at !== null) return record;
      const revoked = { ...record, revoked_at: new Date(this.#now()).toISOString() };
      const result = await this.#kv.atomic()
        .check(entry)
        .set(entry.key, revoked)
        .sum(KEYS_VERSION, 1n)
        .commit();
      if (result.ok) return revoked;
    }
  }

  /** The versionstamp of the last change to any key, null before the first. */
  async version(): Promise<string | null> {
    return (await this.#kv.get(KEYS_VERSION)).versionstamp;
  }
}
