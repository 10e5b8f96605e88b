import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import {
  checkHostKey,
  entryMatches,
  fingerprintOf,
  keyTypeOf,
  knownHostName,
  knownHostsLine,
  parseKnownHosts,
} from "./known_hosts.ts";

// Real keys from `ssh-keygen -t ed25519`; the hashed lines are `ssh-keygen -H` of the testbed's
// known_hosts (`[127.0.0.1]:2222` first, `[localhost]:2222` second).
const TESTBED = "AAAAC3NzaC1lZDI1NTE5AAAAIFW10WmK/y9wySlqUFdlkiC6JXSJnhA+rAtmHBJNSv5n";
const OTHER = "AAAAC3NzaC1lZDI1NTE5AAAAIMyeqZ1gYIUS+NCZKmVbKvROO+VK44QvAmh4fuZtujDj";
const HASHED = `|1|kLzvRX1nuRWIwx/u61jBsqQxJLA=|g7bZK819PifqWAPf5sq1vSwb52c= ssh-ed25519 ${TESTBED}
|1|cNP3RbDQvb3/45bnB6sROTiS050=|jB2INb71I75ItFydRsQND9hdj8c= ssh-ed25519 ${TESTBED}
`;

function blob(base64: string): Uint8Array {
  return new Uint8Array(Buffer.from(base64, "base64"));
}

Deno.test("knownHostName() brackets the host when the port is not 22", () => {
  assert.deepEqual(knownHostName("login.example.org", 22), "login.example.org");
  assert.deepEqual(knownHostName("127.0.0.1", 2222), "[127.0.0.1]:2222");
});

Deno.test("parseKnownHosts() skips comments and blanks and reads markers and line numbers", () => {
  const entries = parseKnownHosts(
    `# comment\n\nlogin,10.0.0.1 ssh-ed25519 ${TESTBED} alice@x\n@revoked * ssh-ed25519 ${OTHER}\nbroken\n`,
  );
  assert.deepEqual(entries, [
    { line: 3, patterns: ["login", "10.0.0.1"], keyType: "ssh-ed25519", keyBase64: TESTBED },
    { line: 4, marker: "revoked", patterns: ["*"], keyType: "ssh-ed25519", keyBase64: OTHER },
  ]);
});

Deno.test("entryMatches() follows OpenSSH's wildcards, negations and hashed names", () => {
  const [wild] = parseKnownHosts(`*.example.org,!bad.example.org ssh-ed25519 ${TESTBED}`);
  assert.deepEqual(entryMatches(wild!, "login.example.org"), true);
  assert.deepEqual(entryMatches(wild!, "LOGIN.Example.org"), true);
  assert.deepEqual(entryMatches(wild!, "bad.example.org"), false);
  assert.deepEqual(entryMatches(wild!, "example.org"), false);
  const [port] = parseKnownHosts(`[127.0.0.?]:2222 ssh-ed25519 ${TESTBED}`);
  assert.deepEqual(entryMatches(port!, "[127.0.0.1]:2222"), true);
  assert.deepEqual(entryMatches(port!, "[127.0.0.1]:22"), false);
  const [first, second] = parseKnownHosts(HASHED);
  assert.deepEqual(entryMatches(first!, "[127.0.0.1]:2222"), true);
  assert.deepEqual(entryMatches(first!, "[localhost]:2222"), false);
  assert.deepEqual(entryMatches(second!, "[localhost]:2222"), true);
});

Deno.test("checkHostKey() tells known, unknown, changed and revoked keys apart", () => {
  const hashed = parseKnownHosts(HASHED);
  assert.deepEqual(checkHostKey(hashed, "[127.0.0.1]:2222", blob(TESTBED)).kind, "known");
  assert.deepEqual(checkHostKey(hashed, "[127.0.0.1]:2223", blob(TESTBED)).kind, "unknown");
  assert.deepEqual(checkHostKey([], "[127.0.0.1]:2222", blob(TESTBED)).kind, "unknown");
  const changed = checkHostKey(hashed, "[127.0.0.1]:2222", blob(OTHER));
  assert.deepEqual(changed.kind, "changed");
  assert.deepEqual(changed.kind === "changed" && changed.entry.line, 1);
  // A key of another type is a new key for that type, as OpenSSH treats it.
  const rsaOnly = parseKnownHosts(`[127.0.0.1]:2222 ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ==`);
  assert.deepEqual(checkHostKey(rsaOnly, "[127.0.0.1]:2222", blob(TESTBED)).kind, "unknown");
  const revoked = parseKnownHosts(`${HASHED}@revoked * ssh-ed25519 ${TESTBED}`);
  assert.deepEqual(checkHostKey(revoked, "[127.0.0.1]:2222", blob(TESTBED)).kind, "revoked");
});

Deno.test("keyTypeOf(), fingerprintOf() and knownHostsLine() read the key blob as ssh-keygen does", () => {
  assert.deepEqual(keyTypeOf(blob(TESTBED)), "ssh-ed25519");
  // `ssh-keygen -lf host_ed25519_key.pub` of the testbed's key.
  assert.deepEqual(
    fingerprintOf(blob(TESTBED)),
    "SHA256:yKGg/7jPCNGGhYuf8adSKTEkN0/f5ndnz7WNLewRyFs",
  );
  assert.deepEqual(
    knownHostsLine("[127.0.0.1]:2222", blob(TESTBED)),
    `[127.0.0.1]:2222 ssh-ed25519 ${TESTBED}`,
  );
});
