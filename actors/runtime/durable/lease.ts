/** Single writer per actor across processes: a lease key whose versionstamp is the fencing token. */
import { z } from "zod";
import { leaseKey } from "./keys.ts";

const LeaseSchema = z.object({ owner: z.string(), expiresAtMs: z.number() });

/** The outcome of trying to take a lease. */
export type LeaseResult =
  | { ok: true; token: string }
  | { ok: false; owner: string; expiresAtMs: number };

/**
 * Takes the lease of an actor when it is free, expired or already ours (`owner` names the node,
 * so a restarted process retakes its own leases at once). The returned versionstamp is the
 * fencing token: every later write checks it, so a stale holder's commit is rejected.
 */
export async function acquireLease(
  kv: Deno.Kv,
  key: { kind: string; id: string },
  options: { owner: string; ttlMs: number },
): Promise<LeaseResult> {
  const k = leaseKey(key.kind, key.id);
  for (let attempt = 0; attempt < 10; attempt++) {
    const entry = await kv.get(k);
    const held = LeaseSchema.safeParse(entry.value);
    const now = Date.now();
    if (
      entry.versionstamp !== null && held.success && held.data.owner !== options.owner &&
      held.data.expiresAtMs > now
    ) {
      return { ok: false, owner: held.data.owner, expiresAtMs: held.data.expiresAtMs };
    }
    const res = await kv.atomic()
      .check(entry)
      .set(k, { owner: options.owner, expiresAtMs: now + options.ttlMs })
      .commit();
    if (res.ok) return { ok: true, token: res.versionstamp };
  }
  return { ok: false, owner: "unknown", expiresAtMs: Date.now() };
}

/** Adds "the lease is still ours (token), and extend it" to an atomic operation. */
export function renewLeaseIn(
  op: Deno.AtomicOperation,
  key: { kind: string; id: string },
  options: { token: string; owner: string; ttlMs: number },
): void {
  const k = leaseKey(key.kind, key.id);
  op.check({ key: k, versionstamp: options.token })
    .set(k, { owner: options.owner, expiresAtMs: Date.now() + options.ttlMs });
}

/** Gives the lease up if it is still ours. */
export async function releaseLease(
  kv: Deno.Kv,
  key: { kind: string; id: string },
  token: string,
): Promise<boolean> {
  const k = leaseKey(key.kind, key.id);
  const res = await kv.atomic().check({ key: k, versionstamp: token }).delete(k).commit();
  return res.ok;
}
