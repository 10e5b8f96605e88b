import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { join } from "node:path";
import { SshHostKeyError, verifyHostKey } from "./host_key.ts";

// Real ed25519 public keys (ssh-keygen).
const KEY = "AAAAC3NzaC1lZDI1NTE5AAAAIFW10WmK/y9wySlqUFdlkiC6JXSJnhA+rAtmHBJNSv5n";
const OTHER = "AAAAC3NzaC1lZDI1NTE5AAAAIMyeqZ1gYIUS+NCZKmVbKvROO+VK44QvAmh4fuZtujDj";
const blob = (base64: string) => new Uint8Array(Buffer.from(base64, "base64"));

async function withFile(text: string | undefined, body: (path: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "known_hosts");
  if (text !== undefined) await Deno.writeTextFile(path, text);
  try {
    await body(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("verifyHostKey() accepts a listed key and refuses an unknown one without touching the file", async () => {
  await withFile(`login ssh-ed25519 ${KEY}\n`, async (path) => {
    verifyHostKey("login", 22, blob(KEY), { knownHostsPath: path, acceptNew: false });
    assert.throws(
      () => verifyHostKey("login", 2222, blob(KEY), { knownHostsPath: path, acceptNew: false }),
      (e: Error) =>
        e instanceof SshHostKeyError && /\[login\]:2222 .* is not in /.test(e.message) &&
        e.message.includes(`ssh-keyscan -p 2222 login >> ${path}`),
    );
    assert.equal(await Deno.readTextFile(path), `login ssh-ed25519 ${KEY}\n`);
  });
});

Deno.test("verifyHostKey() with acceptNew appends on its own line and creates a missing file", async () => {
  await withFile(`other ssh-ed25519 ${OTHER}`, async (path) => {
    verifyHostKey("login", 22, blob(KEY), { knownHostsPath: path, acceptNew: true });
    assert.equal(
      await Deno.readTextFile(path),
      `other ssh-ed25519 ${OTHER}\nlogin ssh-ed25519 ${KEY}\n`,
    );
    verifyHostKey("login", 22, blob(KEY), { knownHostsPath: path, acceptNew: false });
  });
  await withFile(undefined, async (path) => {
    verifyHostKey("login", 22, blob(KEY), { knownHostsPath: path, acceptNew: true });
    assert.equal(await Deno.readTextFile(path), `login ssh-ed25519 ${KEY}\n`);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
  });
});

Deno.test("verifyHostKey() refuses changed and revoked keys even with acceptNew", async () => {
  await withFile(`login ssh-ed25519 ${OTHER}\n@revoked * ssh-ed25519 ${KEY}\n`, async (path) => {
    verifyHostKey("login", 22, blob(OTHER), { knownHostsPath: path, acceptNew: false });
    assert.throws(
      () => verifyHostKey("login", 22, blob(KEY), { knownHostsPath: path, acceptNew: true }),
      /marked @revoked in .* line 2/,
    );
    assert.match(await Deno.readTextFile(path), /^login ssh-ed25519 /);
  });
  await withFile(`login ssh-ed25519 ${OTHER}\n`, async (path) => {
    assert.throws(
      () => verifyHostKey("login", 22, blob(KEY), { knownHostsPath: path, acceptNew: true }),
      /Host key of login has CHANGED: .* line 1 holds another ssh-ed25519 key.*ssh-keygen -R 'login'/,
    );
    assert.equal(await Deno.readTextFile(path), `login ssh-ed25519 ${OTHER}\n`);
  });
});
