/** SSH to the SLURM login node: the shell that runs commands there, and host key checking. */
export { SshShell, type SshShellOptions } from "./shell.ts";
export { SshConnectError } from "./_connect.ts";
export { type HostKeyPolicy, SshHostKeyError, verifyHostKey } from "./host_key.ts";
export {
  checkHostKey,
  type HostKeyVerdict,
  type KnownHostEntry,
  knownHostName,
  parseKnownHosts,
} from "./known_hosts.ts";
export { commandLine, expandHome, parseProxyJump, shellQuote, type SshConfig } from "./options.ts";
export { type ChannelSource, NoTunnels, SshTunnels } from "./tunnels.ts";
