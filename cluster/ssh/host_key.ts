/**
 * Host key verification against a known_hosts file, as OpenSSH's `StrictHostKeyChecking=yes`
 * (or `accept-new` with `accept_new_host_key: true`): refusals say how to accept the key.
 */
import { dirname } from "node:path";
import { logger } from "../../actors/runtime/log.ts";
import {
  checkHostKey,
  fingerprintOf,
  keyTypeOf,
  knownHostName,
  knownHostsLine,
  parseKnownHosts,
} from "./known_hosts.ts";

/** A host key refused: unknown, changed or revoked. Never retried. */
export class SshHostKeyError extends Error {
  override name = "SshHostKeyError";
}

/** What {@linkcode verifyHostKey} checks a key against. */
export interface HostKeyPolicy {
  /** The known_hosts file (absolute); a missing file is an empty one. */
  knownHostsPath: string;
  /** Append an unknown key instead of refusing it. */
  acceptNew: boolean;
}

/**
 * Checks the key blob `host:port` offered; throws {@linkcode SshHostKeyError} with what to do when
 * it is not known, or appends it to the file when it is new and `acceptNew` is set.
 */
export function verifyHostKey(
  host: string,
  port: number,
  keyBlob: Uint8Array,
  policy: HostKeyPolicy,
): void {
  const name = knownHostName(host, port);
  const path = policy.knownHostsPath;
  const text = readIfExists(path);
  const verdict = checkHostKey(parseKnownHosts(text), name, keyBlob);
  const offered = `${keyTypeOf(keyBlob)} key ${fingerprintOf(keyBlob)}`;
  switch (verdict.kind) {
    case "known":
      return;
    case "revoked":
      throw new SshHostKeyError(
        `Host key of ${name} (${offered}) is marked @revoked in ${path} line ${verdict.entry.line}: refusing to connect`,
      );
    case "changed":
      throw new SshHostKeyError(
        `Host key of ${name} has CHANGED: it offered ${offered}, but ${path} line ${verdict.entry.line} ` +
          `holds another ${verdict.entry.keyType} key. Someone may be intercepting the connection, or the ` +
          `host was reinstalled. If you trust the new key, remove the old one with ` +
          `\`ssh-keygen -R '${name}' -f ${path}\` and add the new one with ` +
          `\`${
            keyscan(host, port)
          } >> ${path}\` (accept_new_host_key never replaces a changed key)`,
      );
    case "unknown":
      if (!policy.acceptNew) {
        throw new SshHostKeyError(
          `Host key of ${name} (${offered}) is not in ${path}. Check its fingerprint, then add it with ` +
            `\`${
              keyscan(host, port)
            } >> ${path}\`, or set cluster.slurm.ssh.accept_new_host_key: true ` +
            `to add unknown keys on first connection`,
        );
      }
      Deno.mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      Deno.writeTextFileSync(
        path,
        (text === "" || text.endsWith("\n") ? "" : "\n") + knownHostsLine(name, keyBlob) + "\n",
        { append: true, mode: 0o600 },
      );
      logger.warn("added a new SSH host key to known_hosts", { host: name, key: offered, path });
  }
}

function keyscan(host: string, port: number): string {
  return port === 22 ? `ssh-keyscan ${host}` : `ssh-keyscan -p ${port} ${host}`;
}

function readIfExists(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return "";
    throw new SshHostKeyError(`Cannot read known_hosts file ${path}: ${(error as Error).message}`);
  }
}
