/**
 * Test helpers for the REST client: a slurmrestd of the testbed's SLURM on a unix socket
 * (`rest_auth/local`, as `nobody`), and a local server that replays recorded answers.
 */
import { join } from "node:path";
import { waitFor } from "../../../actors/runtime/testdata/wait.ts";
import { freePort } from "../../ports.ts";
import { testbed } from "../../ssh/testing.ts";

/** A running slurmrestd. */
export interface Slurmrestd {
  socket: string;
  /** A directory every user may write, for job output. */
  dir: string;
  close(): Promise<void>;
}

/**
 * Starts slurmrestd on a unix socket with `rest_auth/local`, as `nobody` (it refuses root); jobs
 * it submits run as `nobody`, whose association in the testbed's account is added when missing.
 */
export async function startSlurmrestd(account = "testacct"): Promise<Slurmrestd> {
  const env = { SLURM_CONF: testbed().slurmConf };
  const associated = async () => {
    const show = await new Deno.Command("sacctmgr", {
      args: ["-n", "-P", "show", "assoc", "user=nobody", `account=${account}`, "format=user"],
      env,
      stdout: "piped",
      stderr: "null",
    }).output();
    return new TextDecoder().decode(show.stdout).trim() !== "";
  };
  if (!(await associated())) {
    const add = await new Deno.Command("sacctmgr", {
      args: ["-i", "add", "user", "nobody", `account=${account}`],
      env,
      stdout: "piped",
      stderr: "piped",
    }).output();
    // Another test may have added it meanwhile ("Nothing new added", exit 1).
    if (!add.success && !(await associated())) {
      throw new Error(`sacctmgr add user nobody: ${new TextDecoder().decode(add.stderr)}`);
    }
  }
  const dir = await Deno.makeTempDir({ prefix: "turnpike-restd-" });
  await Deno.chmod(dir, 0o777);
  const socket = join(dir, "slurmrestd.sock");
  const child = new Deno.Command("slurmrestd", {
    args: ["-a", "rest_auth/local", "-u", "nobody", `unix:${socket}`],
    env,
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      if ((await Deno.stat(socket)).isSocket) break;
    } catch {
      // Not there yet.
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      await child.status;
      throw new Error(`slurmrestd did not open ${socket}: ${await stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    socket,
    dir,
    async close() {
      try {
        child.kill("SIGTERM");
      } catch {
        // Already ended.
      }
      await child.status;
      await stderr;
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** What the replay server saw of one request. */
export interface SeenRequest {
  method: string;
  path: string;
  headers: Headers;
  body: unknown;
}

/** A local HTTP server answering `"METHOD /path"` routes with recorded JSON. */
export interface ReplayServer {
  url: string;
  seen: SeenRequest[];
  close(): Promise<void>;
}

/** An answer of the replay server: a recorded file's name under testdata/rest/, or a value. */
export type ReplayAnswer = { file: string; status?: number } | { json: unknown; status?: number };

const RECORDED = new URL("../testdata/rest/", import.meta.url);

/** Reads a recorded slurmrestd answer. */
export function recorded(file: string): unknown {
  return JSON.parse(Deno.readTextFileSync(new URL(file, RECORDED)));
}

/**
 * Serves `routes` (`"GET /slurm/v0.0.38/jobs"`, or a function of the request for a changing
 * answer); anything else is a 404 with slurmrestd's wording.
 */
export function startReplay(
  routes: Record<string, ReplayAnswer | ((seen: SeenRequest) => ReplayAnswer)>,
): ReplayServer {
  const seen: SeenRequest[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    const text = await req.text();
    const request = {
      method: req.method,
      path: url.pathname + url.search,
      headers: req.headers,
      body: text === "" ? undefined : JSON.parse(text),
    };
    seen.push(request);
    const route = routes[`${req.method} ${url.pathname}${url.search}`] ??
      routes[`${req.method} ${url.pathname}`];
    const answer = typeof route === "function" ? route(request) : route;
    if (!answer) return new Response("Unable to find path", { status: 404 });
    const body = "file" in answer ? recorded(answer.file) : answer.json;
    return Response.json(body, { status: answer.status ?? 200 });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    seen,
    close: () => server.shutdown(),
  };
}

/** A private slurmctld with JWT auth and a slurmrestd in front of it (`rest_auth/jwt`). */
export interface JwtCluster {
  /** slurmrestd's URL. */
  url: string;
  /** The private cluster's slurm.conf, for `scontrol token`. */
  slurmConf: string;
  close(): Promise<void>;
}

/**
 * Starts a slurmctld of its own (ports of its own, state in a temp dir, the testbed's munge, no
 * slurmd, so jobs stay PENDING, no accounting) with `AuthAltTypes=auth/jwt`, and slurmrestd with
 * `rest_auth/jwt` on a free port, as `nobody`, speaking JWT to slurmctld (`SLURM_JWT=daemon`).
 * The shared testbed's slurmctld has no JWT and must not be restarted; this one is ours.
 */
export async function startJwtCluster(): Promise<JwtCluster> {
  const shared = Deno.readTextFileSync(testbed().slurmConf);
  const munge = /^AuthInfo=(.*)$/m.exec(shared)?.[1] ?? "";
  const dir = await Deno.makeTempDir({ prefix: "turnpike-jwt-" });
  // slurmrestd reads slurm.conf after it drops to `nobody`.
  await Deno.chmod(dir, 0o755);
  const key = join(dir, "jwt.key");
  await Deno.writeFile(key, crypto.getRandomValues(new Uint8Array(32)), { mode: 0o600 });
  const [ctldPort, slurmdPort, restPort] = [freePort(), freePort(), freePort()];
  const slurmConf = join(dir, "slurm.conf");
  await Deno.writeTextFile(
    slurmConf,
    [
      `ClusterName=tpjwt${ctldPort}`,
      "SlurmctldHost=localhost(127.0.0.1)",
      `SlurmctldPort=${ctldPort}`,
      `SlurmdPort=${slurmdPort}`,
      "SlurmUser=root",
      "AuthType=auth/munge",
      "CredType=cred/munge",
      munge === "" ? "" : `AuthInfo=${munge}`,
      "AuthAltTypes=auth/jwt",
      `AuthAltParameters=jwt_key=${key}`,
      `StateSaveLocation=${dir}/state`,
      `SlurmctldPidFile=${dir}/slurmctld.pid`,
      `SlurmctldLogFile=${dir}/slurmctld.log`,
      "ProctrackType=proctrack/linuxproc",
      "TaskPlugin=task/none",
      "SelectType=select/cons_tres",
      "SelectTypeParameters=CR_Core_Memory",
      "AccountingStorageType=accounting_storage/none",
      "JobCompType=jobcomp/none",
      "MpiDefault=none",
      "NodeName=localhost NodeAddr=127.0.0.1 CPUs=2 RealMemory=2000 State=UNKNOWN",
      "PartitionName=gpu_a Nodes=localhost Default=YES MaxTime=INFINITE State=UP",
      "",
    ].join("\n"),
  );
  const env = { SLURM_CONF: slurmConf };
  const ctld = new Deno.Command("slurmctld", {
    args: ["-D", "-i", "-f", slurmConf],
    env,
    stdout: "null",
    stderr: "null",
  }).spawn();
  const stop = async (child: Deno.ChildProcess) => {
    try {
      child.kill("SIGTERM");
    } catch {
      // Already ended.
    }
    await child.status;
  };
  let restd: Deno.ChildProcess | undefined;
  try {
    await waitFor("the private slurmctld to answer", async () => {
      const ping = await new Deno.Command("scontrol", { args: ["ping"], env, stdout: "piped" })
        .output();
      return new TextDecoder().decode(ping.stdout).includes("is UP");
    }, { timeoutMs: 60_000, everyMs: 200 });
    restd = new Deno.Command("slurmrestd", {
      args: [
        "-a",
        "rest_auth/jwt",
        "-s",
        "openapi/v0.0.38",
        "-u",
        "nobody",
        `127.0.0.1:${restPort}`,
      ],
      env: { ...env, SLURM_JWT: "daemon" },
      stdout: "null",
      stderr: "null",
    }).spawn();
    await waitFor("slurmrestd to listen", async () => {
      try {
        (await Deno.connect({ hostname: "127.0.0.1", port: restPort })).close();
        return true;
      } catch {
        return false;
      }
    }, { timeoutMs: 60_000, everyMs: 200 });
  } catch (error) {
    if (restd) await stop(restd);
    await stop(ctld);
    await Deno.remove(dir, { recursive: true });
    throw error;
  }
  const started = restd;
  return {
    url: `http://127.0.0.1:${restPort}`,
    slurmConf,
    async close() {
      await stop(started);
      await stop(ctld);
      await Deno.remove(dir, { recursive: true });
    },
  };
}
