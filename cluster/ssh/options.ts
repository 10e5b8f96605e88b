/**
 * The SSH settings of `cluster.slurm.ssh` as the SSH shell takes them, and the small pure pieces
 * around them: `~` expansion, `proxy_jump` parsing, and quoting argv for the remote shell.
 */

/** `cluster.slurm.ssh`, with the YAML's key names. */
export interface SshConfig {
  host: string;
  /** @default 22 */
  port?: number | undefined;
  user: string;
  /** Private key file (OpenSSH or PEM format, not encrypted); `~` is expanded. */
  key?: string | undefined;
  /** Authenticate with the agent at `SSH_AUTH_SOCK`. @default false */
  agent?: boolean | undefined;
  /** @default "~/.ssh/known_hosts" */
  known_hosts?: string | undefined;
  /** Append an unknown host key to known_hosts instead of refusing it (a changed key is still refused). @default false */
  accept_new_host_key?: boolean | undefined;
  /** A bastion to connect through, `[user@]host[:port]` (the user defaults to `user`). */
  proxy_jump?: string | undefined;
  /** Seconds between SSH keepalives; 0 turns them off. @default 15 */
  keepalive_interval?: number | undefined;
}

/** A host to connect to, with its user. */
export interface SshEndpoint {
  host: string;
  port: number;
  user: string;
}

/** Expands a leading `~` or `~/` to `home`; other paths are returned as they are. */
export function expandHome(path: string, home: string | undefined): string {
  if (path !== "~" && !path.startsWith("~/")) return path;
  if (home === undefined) {
    throw new Error(`Cannot expand "${path}": HOME is not set; give an absolute path`);
  }
  return home + path.slice(1);
}

/** Parses `proxy_jump: "[user@]host[:port]"` (`[v6addr]:port` too); the user defaults to `user`. */
export function parseProxyJump(spec: string, user: string): SshEndpoint {
  const at = spec.lastIndexOf("@");
  const jumpUser = at >= 0 ? spec.slice(0, at) : user;
  const rest = at >= 0 ? spec.slice(at + 1) : spec;
  const match = /^\[([^\]]+)\](?::(\d+))?$/.exec(rest) ?? /^([^:]+)(?::(\d+))?$/.exec(rest);
  const port = match?.[2] === undefined ? 22 : Number(match[2]);
  if (!match || !match[1] || jumpUser === "" || !(port >= 1 && port <= 65535)) {
    throw new Error(
      `cluster.slurm.ssh.proxy_jump "${spec}" is not "[user@]host[:port]"; for example "alice@bastion.example.org:22"`,
    );
  }
  return { host: match[1], port, user: jumpUser };
}

/** Quotes one word for a POSIX shell: bare when it is safe, single-quoted otherwise. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** The command line a remote shell runs for `argv`, every word quoted. */
export function commandLine(argv: readonly string[]): string {
  if (argv.length === 0) throw new Error("Cannot run an empty command");
  return argv.map(shellQuote).join(" ");
}
