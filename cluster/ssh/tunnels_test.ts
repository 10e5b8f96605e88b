/** SshTunnels through the testbed's real sshd to a local HTTP server, including a dropped connection. */
import assert from "node:assert/strict";
import { waitFor } from "../../actors/runtime/testdata/wait.ts";
import { SshShell } from "./shell.ts";
import { dropSshConnection, testbed, testbedSsh } from "./testing.ts";
import { NoTunnels, SshTunnels } from "./tunnels.ts";

const bed = testbed();

interface Rig {
  shell: SshShell;
  tunnels: SshTunnels;
  port: number;
  close(): Promise<void>;
}

/** An HTTP server on a free port (`/echo` returns the body, others `hello <path>`), an SSH shell, tunnels. */
function rig(): Rig {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    if (url.pathname === "/echo") return new Response(await req.arrayBuffer());
    return new Response(`hello ${url.pathname}`);
  });
  const shell = new SshShell(testbedSsh(), { backoff: { minMs: 100 } });
  const tunnels = new SshTunnels(shell);
  return {
    shell,
    tunnels,
    port: server.addr.port,
    async close() {
      await tunnels.close();
      await shell.close();
      await server.shutdown();
    },
  };
}

Deno.test("SshTunnels forwards a local port to the remote host:port over SSH", async () => {
  const { tunnels, port, close } = rig();
  try {
    const tunnel = await tunnels.forward("127.0.0.1", port);
    assert.equal(tunnel.url, `http://127.0.0.1:${tunnel.localPort}`);
    assert.notEqual(tunnel.localPort, port);
    const response = await fetch(`${tunnel.url}/health`);
    assert.equal(await response.text(), "hello /health");
    assert.equal(await tunnels.forward("127.0.0.1", port), tunnel);

    // 4 MB each way exercises back-pressure on both sides.
    const body = new Uint8Array(4 * 1024 * 1024).map((_, i) => i % 251);
    const echoed = new Uint8Array(
      await (await fetch(`${tunnel.url}/echo`, { method: "POST", body })).arrayBuffer(),
    );
    assert.equal(echoed.length, body.length);
    assert.ok(echoed.every((byte, i) => byte === body[i]));

    const parallel = await Promise.all(
      Array.from({ length: 12 }, (_, i) => fetch(`${tunnel.url}/p${i}`).then((r) => r.text())),
    );
    assert.deepEqual(parallel, parallel.map((_, i) => `hello /p${i}`));
  } finally {
    await close();
  }
});

Deno.test("SshTunnels listens on a given local port, and close() ends the listener", async () => {
  const { tunnels, port, close } = rig();
  try {
    const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const wanted = (probe.addr as Deno.NetAddr).port;
    probe.close();
    const tunnel = await tunnels.forward("127.0.0.1", port, { localPort: wanted });
    assert.equal(tunnel.localPort, wanted);
    assert.equal(await (await fetch(`${tunnel.url}/x`)).text(), "hello /x");
    await tunnel.close();
    await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port: wanted }));
    const again = await tunnels.forward("127.0.0.1", port);
    assert.notEqual(again, tunnel);
  } finally {
    await close();
  }
});

Deno.test("SshTunnels recovers when the SSH connection is killed while requests flow", async () => {
  const { shell, tunnels, port, close } = rig();
  try {
    const tunnel = await tunnels.forward("127.0.0.1", port);
    let ok = 0;
    let failed = 0;
    let okAfterDrop = 0;
    let dropped = false;
    const loop = (async () => {
      for (let i = 0; i < 200 && okAfterDrop < 20; i++) {
        try {
          const response = await fetch(`${tunnel.url}/r${i}`);
          assert.equal(await response.text(), `hello /r${i}`);
          ok++;
          if (dropped) okAfterDrop++;
        } catch {
          failed++;
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    await waitFor("requests to flow", () => ok >= 10);
    const before = shell.connects;
    assert.ok(await dropSshConnection(shell.localPort!, bed.port) > 0);
    dropped = true;
    await loop;
    assert.ok(
      okAfterDrop >= 20,
      `${okAfterDrop} requests succeeded after the drop (${failed} failed)`,
    );
    assert.equal(shell.connects, before + 1, "one reconnection carries the tunnel again");
    assert.equal(
      await (await fetch(`${tunnel.url}/after`)).text(),
      "hello /after",
      "the same listener serves after the drop",
    );
  } finally {
    await close();
  }
});

Deno.test("SshTunnels closes a local connection whose remote port refuses", async () => {
  const { tunnels, close } = rig();
  try {
    const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const closedPort = (probe.addr as Deno.NetAddr).port;
    probe.close();
    const tunnel = await tunnels.forward("127.0.0.1", closedPort);
    await assert.rejects(fetch(tunnel.url));
  } finally {
    await close();
  }
});

Deno.test("SshTunnels forwards through a ProxyJump bastion too", async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("via bastion"),
  );
  const shell = new SshShell(testbedSsh({ proxy_jump: `${bed.user}@${bed.host}:${bed.port}` }));
  const tunnels = new SshTunnels(shell);
  try {
    const tunnel = await tunnels.forward("127.0.0.1", server.addr.port);
    assert.equal(await (await fetch(tunnel.url)).text(), "via bastion");
    assert.match(shell.where, / via /);
  } finally {
    await tunnels.close();
    await shell.close();
    await server.shutdown();
  }
});

Deno.test("NoTunnels hands back the node's own URL", async () => {
  const tunnels = new NoTunnels();
  const tunnel = await tunnels.forward("gpu01", 5900);
  assert.deepEqual(
    { url: tunnel.url, localPort: tunnel.localPort, host: tunnel.remoteHost },
    { url: "http://gpu01:5900", localPort: 5900, host: "gpu01" },
  );
  assert.equal((await tunnels.forward("fe80::1", 80)).url, "http://[fe80::1]:80");
  await tunnel.close();
  await tunnels.close();
});
