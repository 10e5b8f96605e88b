/**
 * Test helpers for the SSH layer: the SLURM testbed's sshd settings (from its env.sh), and cutting
 * this process's connections to it from the server's side, as a network drop would.
 */
import type { SshConfig } from "./options.ts";

/** The testbed's settings, as `/tmp/slurm-testbed/env.sh` (or the environment) gives them. */
export interface Testbed {
  host: string;
  port: number;
  user: string;
  key: string;
  knownHosts: string;
  hostKeyPub: string;
  slurmConf: string;
  jobDir: string;
}

/**
 * Reads the testbed's settings; throws saying how to start it when it is not up. The environment
 * wins over env.sh, as `eval "$(slurm-up.sh)"` in CI sets it.
 */
export function testbed(): Testbed {
  const dir = Deno.env.get("SLURM_TESTBED_DIR") ?? "/tmp/slurm-testbed";
  const file: Record<string, string> = {};
  try {
    for (const line of Deno.readTextFileSync(`${dir}/env.sh`).split("\n")) {
      const match = /^export ([A-Z_]+)=(.*)$/.exec(line.trim());
      if (match?.[1] && match[2] !== undefined) file[match[1]] = match[2].replace(/^'(.*)'$/, "$1");
    }
  } catch {
    throw new Error(
      `The SLURM testbed is not up (no ${dir}/env.sh): run ../shared/testbed/slurm-up.sh first`,
    );
  }
  const get = (name: string) => {
    const value = Deno.env.get(name) ?? file[name];
    if (value === undefined) throw new Error(`The SLURM testbed's env.sh lacks ${name}`);
    return value;
  };
  return {
    host: get("SLURM_TESTBED_SSH_HOST"),
    port: Number(get("SLURM_TESTBED_SSH_PORT")),
    user: get("SLURM_TESTBED_SSH_USER"),
    key: get("SLURM_TESTBED_SSH_KEY"),
    knownHosts: get("SLURM_TESTBED_SSH_KNOWN_HOSTS"),
    hostKeyPub: get("SLURM_TESTBED_SSH_HOST_KEY_PUB"),
    slurmConf: get("SLURM_CONF"),
    jobDir: get("SLURM_TESTBED_JOB_DIR"),
  };
}

/** `cluster.slurm.ssh` for the testbed, with `overrides` on top. */
export function testbedSsh(overrides: Partial<SshConfig> = {}): SshConfig {
  const bed = testbed();
  return {
    host: bed.host,
    port: bed.port,
    user: bed.user,
    key: bed.key,
    known_hosts: bed.knownHosts,
    ...overrides,
  };
}

/**
 * Kills the sshd process serving the TCP connection from `localPort` to the server's `port`
 * (found with `ss -tnp`), so the connection drops from the server's side as a network failure
 * would. Resolves to how many processes it killed.
 */
export async function dropSshConnection(localPort: number, port: number): Promise<number> {
  return await signalSshd(localPort, port, "SIGKILL");
}

/**
 * Stops (SIGSTOP) the sshd process serving the connection from `localPort`, so the server goes
 * silent while the TCP connection stays open, as a hung network would. Resolves to the pids, to
 * be killed afterwards with {@linkcode dropSshConnection}'s signal.
 */
export async function freezeSshConnection(localPort: number, port: number): Promise<number[]> {
  const pids = await sshdPids(localPort, port);
  signalAll(pids, "SIGSTOP");
  return pids;
}

/** Kills processes by pid (the frozen sshd of {@linkcode freezeSshConnection}). */
export function killAll(pids: readonly number[]): void {
  signalAll(pids, "SIGKILL");
}

async function signalSshd(localPort: number, port: number, signal: Deno.Signal): Promise<number> {
  const pids = await sshdPids(localPort, port);
  signalAll(pids, signal);
  return pids.length;
}

async function sshdPids(localPort: number, port: number): Promise<number[]> {
  const sshd = new Set<number>();
  for (const row of await sockets(`sport = :${port} and dport = :${localPort}`)) {
    row.pids.forEach((pid) => sshd.add(pid));
  }
  return [...sshd];
}

function signalAll(pids: readonly number[], signal: Deno.Signal): void {
  for (const pid of pids) {
    try {
      Deno.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
}

interface SocketRow {
  pids: number[];
}

async function sockets(filter: string): Promise<SocketRow[]> {
  const { stdout } = await new Deno.Command("ss", {
    args: ["-Htnp", "state", "established", filter],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(stdout).split("\n").filter((line) => line.trim() !== "").map(
    (line) => ({ pids: [...line.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1])) }),
  );
}
