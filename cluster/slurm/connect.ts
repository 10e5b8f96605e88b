/**
 * `openCluster`: the shell, SLURM client and tunnels a config asks for, opened together: commands
 * here or on the login node over SSH (`cluster.slurm.ssh`), SLURM over its CLI or slurmrestd
 * (`cluster.slurm.api`), forwards over SSH or none when the nodes are reachable.
 */
import type { Config } from "../../config/schema.ts";
import { LocalShell } from "../local_shell.ts";
import { SshShell, type SshShellOptions } from "../ssh/shell.ts";
import { NoTunnels, SshTunnels } from "../ssh/tunnels.ts";
import { CliSlurm } from "./cli.ts";
import { RestSlurm, type RestSlurmOptions } from "./rest.ts";
import type { Shell, Slurm, Tunnels } from "./types.ts";

/** What {@linkcode openCluster} opened; `close()` closes all three. */
export interface Cluster {
  shell: Shell;
  slurm: Slurm;
  tunnels: Tunnels;
  close(): Promise<void>;
}

/** Options of {@linkcode openCluster}, for the transports underneath. */
export interface OpenClusterOptions {
  ssh?: SshShellOptions;
  rest?: RestSlurmOptions;
}

/**
 * Opens what `config.cluster.slurm` describes. With `ssh` set it connects at once, so that a
 * refused host key or login is reported at start rather than at the first poll.
 */
export async function openCluster(
  config: Pick<Config, "cluster">,
  options: OpenClusterOptions = {},
): Promise<Cluster> {
  const slurmConfig = config.cluster.slurm;
  const ssh = slurmConfig?.ssh;
  let shell: Shell;
  let tunnels: Tunnels;
  if (ssh) {
    const sshShell = new SshShell(ssh, options.ssh);
    try {
      await sshShell.connect();
    } catch (error) {
      await sshShell.close();
      throw error;
    }
    shell = sshShell;
    tunnels = new SshTunnels(sshShell);
  } else {
    shell = new LocalShell();
    tunnels = new NoTunnels();
  }
  const rest = slurmConfig?.api === "rest" ? slurmConfig.rest : undefined;
  const slurm: Slurm = rest ? new RestSlurm(rest, shell, options.rest) : new CliSlurm(shell);
  return {
    shell,
    slurm,
    tunnels,
    async close() {
      await tunnels.close();
      await slurm.close();
      await shell.close();
    },
  };
}
