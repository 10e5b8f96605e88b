/** openCluster on the SLURM testbed: CLI over SSH, CLI here, slurmrestd, and a refused host key. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ConfigSchema } from "../../config/schema.ts";
import { testbed } from "../ssh/testing.ts";
import { openCluster } from "./connect.ts";
import { startSlurmrestd } from "./rest/testing.ts";

const bed = testbed();

function configWith(slurm: Record<string, unknown>) {
  return ConfigSchema.parse({
    cluster: {
      type: "slurm",
      slurm: { partitions: [{ name: "gpu_a", qos: "normal", account: "testacct" }], ...slurm },
    },
  });
}

const SSH = {
  host: bed.host,
  port: bed.port,
  user: bed.user,
  key: bed.key,
  known_hosts: bed.knownHosts,
};

Deno.test("openCluster with cluster.slurm.ssh runs squeue through CliSlurm over SSH and tunnels over it", async () => {
  const cluster = await openCluster(configWith({ ssh: SSH }));
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("replica"),
  );
  try {
    assert.equal(cluster.shell.where, `${bed.user}@${bed.host}:${bed.port}`);
    assert.equal(cluster.slurm.kind, "cli");
    const squeue = await cluster.shell.exec(["squeue", "--me", "-h", "-o", "%i"]);
    assert.equal(squeue.code, 0, squeue.stderr);
    const listed = await cluster.slurm.queue();
    assert.ok(Array.isArray(listed));
    const tunnel = await cluster.tunnels.forward("127.0.0.1", server.addr.port);
    assert.notEqual(tunnel.localPort, server.addr.port);
    assert.equal(await (await fetch(tunnel.url)).text(), "replica");
  } finally {
    await cluster.close();
    await server.shutdown();
  }
});

Deno.test("openCluster without ssh runs SLURM's commands here and needs no tunnels", async () => {
  Deno.env.set("SLURM_CONF", bed.slurmConf);
  const cluster = await openCluster(configWith({}));
  try {
    assert.equal(cluster.shell.where, "local");
    assert.equal(cluster.slurm.kind, "cli");
    assert.ok(Array.isArray(await cluster.slurm.queue()));
    const tunnel = await cluster.tunnels.forward("localhost", 5900);
    assert.equal(tunnel.url, "http://localhost:5900");
  } finally {
    await cluster.close();
  }
});

Deno.test("openCluster with api: rest talks to slurmrestd, fetching its token over SSH", async () => {
  const restd = await startSlurmrestd();
  const cluster = await openCluster(
    configWith({
      api: "rest",
      ssh: SSH,
      // rest_auth/local on the socket ignores the token; the command still runs on the login node.
      rest: { url: "http://localhost:6820", user: "nobody", token_command: "echo SLURM_JWT=x.y.z" },
    }),
    { rest: { unixSocket: restd.socket } },
  );
  try {
    assert.equal(cluster.slurm.kind, "rest");
    assert.ok(Array.isArray(await cluster.slurm.queue()));
  } finally {
    await cluster.close();
    await restd.close();
  }
});

Deno.test("openCluster refuses an unknown host key at once, saying how to accept it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const knownHosts = join(dir, "known_hosts");
    await Deno.writeTextFile(knownHosts, "");
    await assert.rejects(
      openCluster(configWith({ ssh: { ...SSH, known_hosts: knownHosts } })),
      /Host key of \[127\.0\.0\.1\]:2222 .* is not in .*accept_new_host_key: true/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
