import assert from "node:assert/strict";
import { commandLine, expandHome, parseProxyJump, shellQuote } from "./options.ts";

Deno.test("expandHome() expands a leading ~ only", () => {
  assert.equal(expandHome("~/.ssh/id_ed25519", "/home/alice"), "/home/alice/.ssh/id_ed25519");
  assert.equal(expandHome("~", "/home/alice"), "/home/alice");
  assert.equal(expandHome("/etc/ssh/key", undefined), "/etc/ssh/key");
  assert.equal(expandHome("~bob/key", "/home/alice"), "~bob/key");
  assert.throws(() => expandHome("~/key", undefined), /HOME is not set/);
});

Deno.test("parseProxyJump() reads [user@]host[:port] and defaults the user and port", () => {
  assert.deepEqual(parseProxyJump("bastion.example.org", "alice"), {
    host: "bastion.example.org",
    port: 22,
    user: "alice",
  });
  assert.deepEqual(parseProxyJump("bob@10.0.0.1:2200", "alice"), {
    host: "10.0.0.1",
    port: 2200,
    user: "bob",
  });
  assert.deepEqual(parseProxyJump("[::1]:2222", "alice"), {
    host: "::1",
    port: 2222,
    user: "alice",
  });
  assert.throws(() => parseProxyJump("bastion:notaport", "alice"), /proxy_jump "bastion:notaport"/);
  assert.throws(() => parseProxyJump("@bastion", "alice"), /\[user@\]host\[:port\]/);
  assert.throws(() => parseProxyJump("bastion:70000", "alice"), /proxy_jump/);
});

Deno.test("shellQuote() leaves safe words bare and single-quotes the rest", () => {
  assert.equal(shellQuote("--format=%i|%j"), "'--format=%i|%j'");
  assert.equal(shellQuote("/tmp/x.out"), "/tmp/x.out");
  assert.equal(shellQuote(""), "''");
  assert.equal(shellQuote("it's $HOME"), `'it'\\''s $HOME'`);
  assert.equal(commandLine(["squeue", "-h", "-o", "%i %T"]), "squeue -h -o '%i %T'");
  assert.throws(() => commandLine([]), /empty command/);
});
