/** The KV key layout of the actor runtime, in one place. */

/** Snapshot header of an actor: `["actor", kind, id]`. */
export function snapshotKey(kind: string, id: string): Deno.KvKey {
  return ["actor", kind, id];
}

/** Prefix of every snapshot header of a kind. */
export function snapshotPrefix(kind: string): Deno.KvKey {
  return ["actor", kind];
}

/** One chunk of a large snapshot. */
export function chunkKey(kind: string, id: string, version: string, index: number): Deno.KvKey {
  return ["actor_chunk", kind, id, version, index];
}

/** Prefix of every chunk of one snapshot version. */
export function chunkPrefix(kind: string, id: string, version: string): Deno.KvKey {
  return ["actor_chunk", kind, id, version];
}

/** The single-writer lease of an actor. */
export function leaseKey(kind: string, id: string): Deno.KvKey {
  return ["actor_lease", kind, id];
}

/** Dedupe record: this message's effect on this actor is committed. */
export function seenKey(kind: string, id: string, messageId: string): Deno.KvKey {
  return ["actor_seen", kind, id, messageId];
}

/** Dead-letter record written by KV when a message's retries run out. */
export function deadLetterKey(kind: string, id: string, messageId: string): Deno.KvKey {
  return ["actor_dead", kind, id, messageId];
}

/** Prefix of every dead-letter record. */
export const DEAD_LETTER_PREFIX: Deno.KvKey = ["actor_dead"];

/** Tombstone of a cancelled durable timer. */
export function cancelKey(kind: string, id: string, messageId: string): Deno.KvKey {
  return ["actor_cancel", kind, id, messageId];
}
