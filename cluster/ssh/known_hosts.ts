/**
 * OpenSSH known_hosts checking: parses the file (plain, `[host]:port` and hashed `|1|` entries,
 * wildcards, negations, `@revoked`), decides whether a server's host key is known, unknown or
 * changed, and renders the line that accepts a new key.
 */
import { Buffer } from "node:buffer";
import { createHash, createHmac } from "node:crypto";

/** One key line of a known_hosts file. */
export interface KnownHostEntry {
  /** 1-based line number, for messages. */
  line: number;
  /** `@revoked` or `@cert-authority` when the line starts with one. */
  marker?: "revoked" | "cert-authority";
  /** The comma-separated host patterns, or the single `|1|salt|hash` of a hashed line. */
  patterns: string[];
  keyType: string;
  /** The key blob, base64 as the file holds it. */
  keyBase64: string;
}

/** What {@linkcode checkHostKey} found for the key a server offered. */
export type HostKeyVerdict =
  | { kind: "known"; entry: KnownHostEntry }
  | { kind: "unknown" }
  | { kind: "changed"; entry: KnownHostEntry }
  | { kind: "revoked"; entry: KnownHostEntry };

/** The name known_hosts uses for a host: `host` on port 22, `[host]:port` otherwise. */
export function knownHostName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** Parses a known_hosts file's text; comments, blank and malformed lines are skipped. */
export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split("\n").forEach((raw, index) => {
    const words = raw.trim().split(/\s+/);
    if (words[0] === undefined || words[0] === "" || words[0].startsWith("#")) return;
    let marker: KnownHostEntry["marker"];
    if (words[0] === "@revoked" || words[0] === "@cert-authority") {
      marker = words[0] === "@revoked" ? "revoked" : "cert-authority";
      words.shift();
    }
    const [hosts, keyType, keyBase64] = words;
    if (hosts === undefined || keyType === undefined || keyBase64 === undefined) return;
    entries.push({
      line: index + 1,
      ...(marker ? { marker } : {}),
      patterns: hosts.split(","),
      keyType,
      keyBase64,
    });
  });
  return entries;
}

/** Whether `name` (as {@linkcode knownHostName} writes it) is named by an entry's patterns. */
export function entryMatches(entry: KnownHostEntry, name: string): boolean {
  const [first] = entry.patterns;
  if (first !== undefined && first.startsWith("|1|")) return hashedMatches(first, name);
  let matched = false;
  for (const pattern of entry.patterns) {
    if (pattern.startsWith("!")) {
      if (globMatches(pattern.slice(1), name)) return false;
    } else if (globMatches(pattern, name)) {
      matched = true;
    }
  }
  return matched;
}

/**
 * Checks the key blob a server offered for host `name` against the entries: `known` when an
 * entry holds this key, `changed` when an entry of the same key type holds another one, `revoked`
 * when the key is marked `@revoked`, `unknown` otherwise.
 */
export function checkHostKey(
  entries: readonly KnownHostEntry[],
  name: string,
  keyBlob: Uint8Array,
): HostKeyVerdict {
  const offered = toBase64(keyBlob);
  const type = keyTypeOf(keyBlob);
  const revoked = entries.find((e) => e.marker === "revoked" && e.keyBase64 === offered);
  if (revoked) return { kind: "revoked", entry: revoked };
  const mine = entries.filter((e) => e.marker === undefined && entryMatches(e, name));
  const same = mine.find((e) => e.keyBase64 === offered);
  if (same) return { kind: "known", entry: same };
  const other = mine.find((e) => e.keyType === type);
  return other ? { kind: "changed", entry: other } : { kind: "unknown" };
}

/** The key type a key blob names in its first field (`ssh-ed25519`, `ecdsa-sha2-nistp256`). */
export function keyTypeOf(keyBlob: Uint8Array): string {
  if (keyBlob.length < 4) return "unknown";
  const length = new DataView(keyBlob.buffer, keyBlob.byteOffset, keyBlob.byteLength).getUint32(0);
  return new TextDecoder().decode(keyBlob.subarray(4, 4 + length));
}

/** The key's fingerprint as `ssh-keygen -l` prints it: `SHA256:` and unpadded base64. */
export function fingerprintOf(keyBlob: Uint8Array): string {
  return "SHA256:" + createHash("sha256").update(keyBlob).digest("base64").replace(/=+$/, "");
}

/** The known_hosts line that accepts `keyBlob` for host `name`. */
export function knownHostsLine(name: string, keyBlob: Uint8Array): string {
  return `${name} ${keyTypeOf(keyBlob)} ${toBase64(keyBlob)}`;
}

function hashedMatches(hashed: string, name: string): boolean {
  const [, , salt, hash] = hashed.split("|");
  if (salt === undefined || hash === undefined) return false;
  const digest = createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest("base64");
  return digest === hash;
}

/** OpenSSH's pattern language: `*` any run, `?` one character, case-insensitive. */
function globMatches(pattern: string, name: string): boolean {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(
    /\?/g,
    ".",
  );
  return new RegExp(`^${source}$`, "i").test(name);
}

function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}
