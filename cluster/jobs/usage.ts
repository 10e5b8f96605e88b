/** The `--help` texts of `deno task jobs` and of each of its subcommands. */
import { CONFIG_FLAG_USAGE } from "../../config/cli.ts";

const ADMIN_KEY_USAGE = [
  "  --admin-key KEY the gateway's admin key, when a gateway with auth on runs (default:",
  "                  TURNPIKE_ADMIN_KEY, then the config's auth.admin_key_env/admin_key)",
];

const GATEWAY_OR_ALONE = [
  "When a gateway answers on the config's proxy.host:proxy.port, this goes through its admin API",
  "(/api/jobs: its actors own the jobs); otherwise the job actors run in this process on the",
  "config's KV file. Either way the jobs' state ends up in that KV file.",
];

/** `deno task jobs --help`. */
export const JOBS_USAGE = [
  "Usage: deno task jobs <command> [options]",
  "",
  "Runs the config's models as SLURM jobs (cluster.type: slurm) and wires them into the",
  "gateway. With cluster.type local the replicas are a running gateway's own processes, which",
  "status, scale and stop reach through that gateway.",
  "",
  "Commands:",
  "  start            submit the replicas the config asks for and wait until they are queued",
  "  status           a table of every replica: job, partition, node, state, endpoint, health",
  "  scale MODEL N    set MODEL's replicas to N",
  "  stop [MODEL]     drain from the router, then cancel (every model without MODEL)",
  "  logs JOB         print a job's output (--follow keeps printing)",
  "  plan             the sbatch scripts and the capacity check, submitting nothing",
  "  connect          tunnels to the running replicas plus the gateway, in one process",
  "",
  "Options of every command:",
  CONFIG_FLAG_USAGE,
  "  -h, --help      show the command's help",
  "",
  "Run `deno task jobs <command> --help` for a command's options.",
].join("\n");

/** `jobs start --help`. */
export const START_USAGE = [
  "Usage: deno task jobs start [--config FILE] [--wait] [--timeout S] [options]",
  "",
  "Submits what the config asks for (each model's replicas); jobs already running are kept.",
  "Waits until every job is queued or running (with --wait: healthy), printing each change,",
  "then prints the status table and exits: 0 when all got there, 1 when one failed or the",
  "time ran out.",
  "",
  ...GATEWAY_OR_ALONE,
  "",
  "Options:",
  CONFIG_FLAG_USAGE,
  "  --wait          wait until every replica answers /health",
  "  --timeout S     seconds to wait (default: 300; with --wait, the longest",
  "                  models[].startup_timeout plus 300)",
  ...ADMIN_KEY_USAGE,
  "  -h, --help      show this help",
].join("\n");

/** `jobs status --help`. */
export const STATUS_USAGE = [
  "Usage: deno task jobs status [--config FILE] [--json] [--watch [--interval S]] [options]",
  "",
  "Prints one line per replica: model, replica, job id, partition, node, state (a pending job's",
  "reason, grouped as quota, resources, held, dependency, priority or other), since, endpoint",
  "and health; below the table, the last error of each replica that had one.",
  "",
  ...GATEWAY_OR_ALONE,
  "",
  "Options:",
  CONFIG_FLAG_USAGE,
  "  --json          print the rows as JSON (an array of JobStatusRow)",
  "  --watch         print again every --interval seconds until Ctrl-C",
  "  --interval S    seconds between prints with --watch (default: 2)",
  ...ADMIN_KEY_USAGE,
  "  -h, --help      show this help",
].join("\n");

/** `jobs scale --help`. */
export const SCALE_USAGE = [
  "Usage: deno task jobs scale MODEL N [--config FILE] [options]",
  "",
  "Sets MODEL's desired replicas to N (within models[].autoscale's min and max when it has",
  "them): new replicas are submitted, extra ones drained and cancelled. Prints the status table.",
  "",
  ...GATEWAY_OR_ALONE,
  "",
  "Options:",
  CONFIG_FLAG_USAGE,
  ...ADMIN_KEY_USAGE,
  "  -h, --help      show this help",
].join("\n");

/** `jobs stop --help`. */
export const STOP_USAGE = [
  "Usage: deno task jobs stop [MODEL] [--config FILE] [--timeout S] [options]",
  "",
  "Drains MODEL's replicas from the router (no new requests; those in flight finish), then",
  "cancels their jobs (scancel); every model's without MODEL. Waits until they are cancelled.",
  "",
  ...GATEWAY_OR_ALONE,
  "",
  "Options:",
  CONFIG_FLAG_USAGE,
  "  --timeout S     seconds to wait for the jobs to end (default: 300)",
  ...ADMIN_KEY_USAGE,
  "  -h, --help      show this help",
].join("\n");

/** `jobs logs --help`. */
export const LOGS_USAGE = [
  "Usage: deno task jobs logs JOB [--follow] [--config FILE]",
  "",
  "Prints a job's output file, read on the cluster (over ssh when cluster.slurm.ssh is set).",
  "JOB is a SLURM job id, a job name, or MODEL/REPLICA (`m/0`) as `jobs status` lists them.",
  "",
  "Options:",
  CONFIG_FLAG_USAGE,
  "  -f, --follow    keep printing what the job writes (tail -F) until Ctrl-C",
  "  -h, --help      show this help",
].join("\n");

/** `jobs connect --help`. */
export const CONNECT_USAGE = [
  "Usage: deno task jobs connect [--config FILE] [--port P] [--host H] [--insecure]",
  "",
  "Runs the gateway in this process with the running replicas of the config's models as its",
  "backends: a local port forward (over cluster.slurm.ssh when set) to each replica's node and",
  "port, re-opened when it drops. Replicas that start or end later are added and removed as",
  "they come and go. Starts and stops no job: `jobs start` and `jobs stop` do. Prints the base",
  "URL; Ctrl-C closes the gateway and the tunnels.",
  "",
  "Options:",
  CONFIG_FLAG_USAGE,
  "  --port P        port to listen on, instead of proxy.port (0 = any free port)",
  "  --host H        interface to listen on, instead of proxy.host",
  "  --insecure      listen on a non-loopback interface with auth off (refused without it)",
  "  -h, --help      show this help",
].join("\n");
