/** SshShell against the SLURM testbed's real sshd (127.0.0.1:2222): commands, host keys, drops. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { waitFor } from "../../actors/runtime/testdata/wait.ts";
import { SshShell } from "./shell.ts";
import { dropSshConnection, freezeSshConnection, killAll, testbed, testbedSsh } from "./testing.ts";

const bed = testbed();
const HOST_KEY = Deno.readTextFileSync(bed.hostKeyPub).trim().split(/\s+/).slice(0, 2).join(" ");

function shellFor(overrides: Parameters<typeof testbedSsh>[0] = {}): SshShell {
  return new SshShell(testbedSsh(overrides), { connectAttempts: 3, backoff: { minMs: 100 } });
}

async function withShell(
  overrides: Parameters<typeof testbedSsh>[0],
  body: (shell: SshShell) => Promise<void>,
): Promise<void> {
  const shell = shellFor(overrides);
  try {
    await body(shell);
  } finally {
    await shell.close();
  }
}

Deno.test("SshShell runs squeue on the login node with SLURM's environment", async () => {
  await withShell({}, async (shell) => {
    const result = await shell.exec(["squeue", "-o", "%i %j %T"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^JOBID NAME STATE/);
    assert.equal(shell.where, `${bed.user}@${bed.host}:${bed.port}`);
  });
});

Deno.test("SshShell quotes every word and feeds stdin", async () => {
  await withShell({}, async (shell) => {
    const words = ["it's", "$HOME", "a b", "*", "", "`id`", "x;y"];
    const echoed = await shell.exec(["printf", "%s\\n", ...words]);
    assert.equal(echoed.stdout, words.map((w) => w + "\n").join(""));
    const cat = await shell.exec(["cat"], { stdin: "#!/bin/bash\necho 'hi'\n" });
    assert.deepEqual(cat, { code: 0, stdout: "#!/bin/bash\necho 'hi'\n", stderr: "" });
  });
});

Deno.test("SshShell reports a non-zero exit and stderr as a result", async () => {
  await withShell({}, async (shell) => {
    const result = await shell.exec(["sh", "-c", "echo out; echo bad >&2; exit 3"]);
    assert.deepEqual(result, { code: 3, stdout: "out\n", stderr: "bad\n" });
    const killed = await shell.exec(["sh", "-c", "kill -TERM $$"]);
    assert.equal(killed.code, 143);
  });
});

Deno.test("SshShell streams output as it comes and ends a followed command on abort", async () => {
  await withShell({}, async (shell) => {
    let seen = "";
    const code = await shell.stream(["sh", "-c", "for i in 1 2 3; do echo line$i; done"], (c) => {
      seen += c;
    });
    assert.equal(code, 0);
    assert.equal(seen, "line1\nline2\nline3\n");

    const file = `/tmp/turnpike-ssh-follow-${crypto.randomUUID()}.log`;
    await shell.exec(["sh", "-c", `echo first > ${file}`]);
    const abort = new AbortController();
    let followed = "";
    const following = shell.stream(["tail", "-F", file], (c) => followed += c, {
      signal: abort.signal,
    });
    await waitFor("the first line", () => followed.includes("first"));
    await shell.exec(["sh", "-c", `echo second >> ${file}`]);
    await waitFor("the appended line", () => followed.includes("second"));
    abort.abort();
    await following;
    await waitFor("tail to end on the login node", async () => {
      const left = await shell.exec(["pgrep", "-f", `tail -F ${file}`]);
      return left.code === 1;
    });
    await shell.exec(["rm", "-f", file]);
  });
});

Deno.test("SshShell.exec() rejects with the abort reason at once, and after it, before it runs", async () => {
  await withShell({}, async (shell) => {
    // sshd refuses signal requests on root logins (the testbed's), so the remote sleep outlives
    // the abort; the caller must not wait for it.
    const seconds = `30.${Math.floor(Math.random() * 1e9)}`;
    const pattern = `^sleep ${seconds}$`;
    const abort = new AbortController();
    const running = shell.exec(["sleep", seconds], { signal: abort.signal });
    await waitFor("the command to start", async () => {
      return (await shell.exec(["pgrep", "-f", pattern])).code === 0;
    });
    const started = Date.now();
    abort.abort(new Error("stop it"));
    await assert.rejects(running, /stop it/);
    assert.ok(Date.now() - started < 10_000, "answered without waiting for the command");
    await shell.exec(["pkill", "-f", pattern]);
    const aborted = new AbortController();
    aborted.abort(new Error("too late"));
    await assert.rejects(shell.exec(["true"], { signal: aborted.signal }), /too late/);
  });
});

Deno.test("SshShell runs many commands at once over one connection", async () => {
  await withShell({}, async (shell) => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => shell.exec(["echo", String(i)])),
    );
    assert.deepEqual(results.map((r) => r.stdout), results.map((_, i) => `${i}\n`));
    assert.equal(shell.connects, 1);
  });
});

Deno.test("SshShell refuses an unknown host key and says how to accept it", async () => {
  const dir = await Deno.makeTempDir();
  const knownHosts = join(dir, "known_hosts");
  await Deno.writeTextFile(knownHosts, "");
  try {
    await withShell({ known_hosts: knownHosts }, async (shell) => {
      const error = await shell.exec(["true"]).then(() => undefined, (e: Error) => e);
      assert.ok(error, "the connection should be refused");
      assert.match(error.message, /Host key of \[127\.0\.0\.1\]:2222 \(ssh-ed25519 key SHA256:/);
      assert.match(error.message, /is not in .*known_hosts/);
      assert.match(error.message, /ssh-keyscan -p 2222 127\.0\.0\.1 >> /);
      assert.match(error.message, /accept_new_host_key: true/);
      assert.equal(shell.connects, 0);
    });
    assert.equal(await Deno.readTextFile(knownHosts), "");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SshShell with accept_new_host_key appends an unknown key, which is then known", async () => {
  const dir = await Deno.makeTempDir();
  const knownHosts = join(dir, "ssh", "known_hosts");
  try {
    await withShell({ known_hosts: knownHosts, accept_new_host_key: true }, async (shell) => {
      assert.equal((await shell.exec(["true"])).code, 0);
    });
    assert.equal(await Deno.readTextFile(knownHosts), `[127.0.0.1]:2222 ${HOST_KEY}\n`);
    await withShell({ known_hosts: knownHosts }, async (shell) => {
      assert.equal((await shell.exec(["true"])).code, 0);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SshShell refuses a changed host key, even with accept_new_host_key", async () => {
  const dir = await Deno.makeTempDir();
  const knownHosts = join(dir, "known_hosts");
  const other = join(dir, "other");
  try {
    const keygen = await new Deno.Command("ssh-keygen", {
      args: ["-q", "-t", "ed25519", "-N", "", "-f", other],
    }).output();
    assert.ok(keygen.success);
    const otherKey = (await Deno.readTextFile(`${other}.pub`)).split(" ").slice(0, 2).join(" ");
    const text = `# reinstalled since\n[127.0.0.1]:2222 ${otherKey}\n`;
    await Deno.writeTextFile(knownHosts, text);
    await withShell({ known_hosts: knownHosts, accept_new_host_key: true }, async (shell) => {
      const error = await shell.exec(["true"]).then(() => undefined, (e: Error) => e);
      assert.ok(error, "the connection should be refused");
      assert.match(error.message, /Host key of \[127\.0\.0\.1\]:2222 has CHANGED/);
      assert.match(error.message, /known_hosts line 2 holds another ssh-ed25519 key/);
      assert.match(error.message, /ssh-keygen -R '\[127\.0\.0\.1\]:2222'/);
    });
    assert.equal(await Deno.readTextFile(knownHosts), text);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SshShell accepts a hashed known_hosts entry", async () => {
  const dir = await Deno.makeTempDir();
  const knownHosts = join(dir, "known_hosts");
  try {
    await Deno.copyFile(bed.knownHosts, knownHosts);
    const hash = await new Deno.Command("ssh-keygen", {
      args: ["-H", "-f", knownHosts],
      stdout: "null",
      stderr: "null",
    }).output();
    assert.ok(hash.success);
    assert.match(await Deno.readTextFile(knownHosts), /^\|1\|/);
    await withShell({ known_hosts: knownHosts }, async (shell) => {
      assert.equal((await shell.exec(["true"])).code, 0);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SshShell reconnects when its connection is killed from outside", async () => {
  await withShell({}, async (shell) => {
    assert.equal((await shell.exec(["true"])).code, 0);
    const port = shell.localPort;
    assert.ok(port !== undefined);
    assert.ok(await dropSshConnection(port, bed.port) > 0, "the sshd serving us should be found");
    await waitFor("the drop to be seen", () => shell.localPort === undefined);
    const result = await shell.exec(["echo", "back"]);
    assert.equal(result.stdout, "back\n");
    assert.equal(shell.connects, 2);
  });
});

Deno.test("SshShell's keepalive notices a server gone silent and reconnects", async () => {
  await withShell({ keepalive_interval: 1 }, async (shell) => {
    assert.equal((await shell.exec(["true"])).code, 0);
    const frozen = await freezeSshConnection(shell.localPort!, bed.port);
    assert.ok(frozen.length > 0, "the sshd serving us should be found");
    try {
      // 3 unanswered keepalives a second apart end the connection, though TCP stays up.
      await waitFor("the keepalive to give up", () => shell.localPort === undefined, {
        timeoutMs: 30_000,
        everyMs: 100,
      });
    } finally {
      killAll(frozen);
    }
    assert.equal((await shell.exec(["echo", "alive"])).stdout, "alive\n");
    assert.equal(shell.connects, 2);
  });
});

Deno.test("SshShell retries a command whose connection died unnoticed, once", async () => {
  await withShell({}, async (shell) => {
    assert.equal((await shell.exec(["true"])).code, 0);
    // The next exec races the drop: it either fails to open its channel and is retried on a new
    // connection, or runs after the close was seen. Either way it must succeed.
    await dropSshConnection(shell.localPort!, bed.port);
    assert.equal((await shell.exec(["echo", "ok"])).stdout, "ok\n");
  });
});

Deno.test("SshShell rejects a command cut off by the drop instead of guessing its outcome", async () => {
  await withShell({}, async (shell) => {
    const running = shell.exec(["sleep", "30"]);
    await waitFor("sleep to run", async () => {
      const port = shell.localPort;
      return port !== undefined && (await shell.exec(["pgrep", "-x", "sleep"])).code === 0 && port;
    });
    await dropSshConnection(shell.localPort!, bed.port);
    await assert.rejects(running, /connection to .* was lost while running: sleep 30/);
  });
});

Deno.test("SshShell authenticates with the agent at SSH_AUTH_SOCK", async () => {
  const dir = await Deno.makeTempDir();
  const socket = join(dir, "agent.sock");
  const agent = new Deno.Command("ssh-agent", {
    args: ["-D", "-a", socket],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await waitFor("the agent's socket", async () => {
      try {
        return (await Deno.stat(socket)).isSocket;
      } catch {
        return false;
      }
    });
    const add = await new Deno.Command("ssh-add", {
      args: [bed.key],
      env: { SSH_AUTH_SOCK: socket },
      stdout: "null",
      stderr: "null",
    }).output();
    assert.ok(add.success);
    const env = new Map([["SSH_AUTH_SOCK", socket], ["HOME", dir]]);
    const { key: _key, ...config } = testbedSsh({ agent: true });
    const shell = new SshShell(config, { env: { get: (name) => env.get(name) } });
    try {
      assert.equal((await shell.exec(["echo", "agent"])).stdout, "agent\n");
    } finally {
      await shell.close();
    }
    assert.throws(
      () => new SshShell(config, { env: { get: () => undefined } }),
      /agent is true but SSH_AUTH_SOCK is not set/,
    );
  } finally {
    agent.kill("SIGTERM");
    await agent.status;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SshShell expands ~ in key and known_hosts, and finds ~/.ssh/id_ed25519 without a key", async () => {
  const home = await Deno.makeTempDir();
  try {
    await Deno.mkdir(join(home, ".ssh"));
    await Deno.copyFile(bed.key, join(home, ".ssh", "id_ed25519"));
    await Deno.copyFile(bed.knownHosts, join(home, ".ssh", "known_hosts"));
    const env = { get: (name: string) => (name === "HOME" ? home : undefined) };
    const { key: _key, known_hosts: _knownHosts, ...bare } = testbedSsh();
    for (const config of [{ ...bare, key: "~/.ssh/id_ed25519" }, bare]) {
      const shell = new SshShell(config, { env });
      try {
        assert.equal((await shell.exec(["echo", "home"])).stdout, "home\n");
      } finally {
        await shell.close();
      }
    }
    await Deno.remove(join(home, ".ssh", "id_ed25519"));
    assert.throws(() => new SshShell(bare, { env }), /has no key and no agent/);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("SshShell jumps through a bastion (the same sshd, to itself)", async () => {
  await withShell({ proxy_jump: `${bed.user}@${bed.host}:${bed.port}` }, async (shell) => {
    assert.equal(
      shell.where,
      `${bed.user}@${bed.host}:${bed.port} via ${bed.user}@${bed.host}:${bed.port}`,
    );
    const result = await shell.exec(["sh", "-c", "echo $SSH_CONNECTION"]);
    assert.equal(result.code, 0, result.stderr);
    // The second hop arrives from the bastion's sshd, so its client port is not ours.
    const [, clientPort] = result.stdout.trim().split(" ");
    assert.notEqual(Number(clientPort), shell.localPort);
    assert.ok(await dropSshConnection(shell.localPort!, bed.port) > 0);
    assert.equal((await shell.exec(["echo", "again"])).stdout, "again\n");
    assert.equal(shell.connects, 2);
  });
});

Deno.test("SshShell gives up on an unreachable host after its attempts, saying so", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  await withShell({ port }, async (shell) => {
    await assert.rejects(shell.exec(["true"]), /Cannot connect to .*gave up after 3 attempts/);
  });
});
