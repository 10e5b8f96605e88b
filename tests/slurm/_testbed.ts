/**
 * Helpers of the job actors' end-to-end tests on the SLURM testbed: finding the testbed (a clear
 * failure under CI, a printed skip elsewhere), configs whose replicas run the simulator as SLURM
 * jobs, squeue/scancel of this test's jobs alone, and a gateway run as `main.ts serve` in its own
 * process group.
 */
import { stringify } from "yaml";
import { type Testbed, testbed } from "../../cluster/ssh/testing.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
/** The CLI entry the replicas and the gateway subprocess run. */
export const MAIN_TS = `${ROOT}main.ts`;

/**
 * The testbed, or undefined (with the reason printed) when it is not up; under `CI=true` a
 * missing testbed fails the test instead, as CI brings it up before the suite.
 */
export function testbedOrSkip(what: string): Testbed | undefined {
  try {
    const bed = testbed();
    Deno.statSync(bed.slurmConf);
    // SLURM's commands run here (no ssh in these configs) and need the testbed's config.
    Deno.env.set("SLURM_CONF", bed.slurmConf);
    return bed;
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    if (Deno.env.get("CI") === "true") {
      throw new Error(`${what} needs the SLURM testbed, which CI brings up: ${why}`);
    }
    console.log(`skipping ${what}: ${why}`);
    return undefined;
  }
}

/** A name unique to one test run, safe in a model name and a job name. */
export function tag(prefix: string): string {
  return `${prefix}${crypto.randomUUID().slice(0, 6)}`;
}

/** A base port with `count` free ports above it on 127.0.0.1. */
export function freeBasePort(count: number): number {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    const listeners: Deno.Listener[] = [];
    try {
      for (let i = 0; i < count; i++) {
        listeners.push(Deno.listen({ hostname: "0.0.0.0", port: base + i }));
      }
      return base;
    } catch {
      // Taken: try another range.
    } finally {
      for (const l of listeners) l.close();
    }
  }
  throw new Error(`No ${count} free ports in a row were found`);
}

/** The simulator as a replica's command template, with this Deno's absolute path (jobs get a bare PATH). */
export function simCommand(extra = ""): string {
  return `${Deno.execPath()} run -A ${MAIN_TS} sim --port {port} --model {name}${extra}`;
}

/** Options of {@linkcode slurmConfig}. */
export interface SlurmConfigOptions {
  model: string;
  replicas: number;
  basePort: number;
  stateDir: string;
  jobDir: string;
  /** `cluster.slurm.partitions`; gpu_a then gpu_b by default. */
  partitions?: Record<string, unknown>[];
  /** Overrides of `cluster.slurm`. */
  slurm?: Record<string, unknown>;
  /** Overrides of the model's entry. */
  modelExtra?: Record<string, unknown>;
  /** Overrides of `proxy`. */
  proxy?: Record<string, unknown>;
}

/** A `cluster.type: slurm` config on the testbed (commands run here: no ssh) with quick polls. */
export function slurmConfig(options: SlurmConfigOptions): Record<string, unknown> {
  return {
    proxy: {
      health_check_interval: 0.5,
      circuit_open_seconds: 0.5,
      drain_timeout: 5,
      ...options.proxy,
    },
    cluster: {
      type: "slurm",
      slurm: {
        partitions: options.partitions ?? [
          { name: "gpu_a", qos: "normal", account: "testacct", gpus_per_node: 4, priority: 10 },
          { name: "gpu_b", account: "testacct", gpus_per_node: 4, priority: 1 },
        ],
        poll_interval: 1,
        pending_timeout: 60,
        max_attempts: 3,
        backoff: { initial: 1, max: 4 },
        job_dir: options.jobDir,
        signal_lead: 30,
        ...options.slurm,
      },
    },
    models: [{
      name: options.model,
      replicas: options.replicas,
      base_port: options.basePort,
      command: simCommand(),
      startup_timeout: 90,
      ...options.modelExtra,
    }],
    logging: { level: "info" },
    state_dir: options.stateDir,
  };
}

/** Writes `config` as YAML into `dir` and answers its path. */
export async function writeConfig(dir: string, config: Record<string, unknown>): Promise<string> {
  const path = `${dir}/turnpike.yaml`;
  await Deno.writeTextFile(path, stringify(config));
  return path;
}

/** One live job of this test, as squeue shows it. */
export interface QueuedJob {
  jobId: string;
  name: string;
  state: string;
}

async function slurmCommand(bed: Testbed, program: string, args: string[]): Promise<string> {
  const output = await new Deno.Command(program, {
    args,
    env: { SLURM_CONF: bed.slurmConf },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  if (output.code !== 0) {
    throw new Error(`${program} ${args.join(" ")} failed: ${text.decode(output.stderr)}`);
  }
  return text.decode(output.stdout);
}

/** The live jobs (pending, running, completing) whose name carries `model`. */
export async function liveJobs(bed: Testbed, model: string): Promise<QueuedJob[]> {
  const out = await slurmCommand(bed, "squeue", [
    "-h",
    "-t",
    "PENDING,RUNNING,CONFIGURING,COMPLETING",
    "-o",
    "%i|%T|%j",
  ]);
  return out.split("\n").filter((line) => line.includes(`.${model}.`)).map((line) => {
    const [jobId = "", state = "", name = ""] = line.trim().split("|");
    return { jobId, state, name };
  });
}

/** scancel of one job, from outside turnpike. */
export async function scancel(bed: Testbed, jobId: string): Promise<void> {
  await slurmCommand(bed, "scancel", [jobId]);
}

/** Cancels every live job of `model` (the end of a test, also on failure). */
export async function cancelAll(bed: Testbed, model: string): Promise<void> {
  const ids = (await liveJobs(bed, model)).map((j) => j.jobId);
  if (ids.length > 0) await slurmCommand(bed, "scancel", ids).catch(() => "");
}

/** A gateway run as `deno run -A main.ts serve --config FILE` in its own process group. */
export class ServeProcess {
  readonly child: Deno.ChildProcess;
  #output = "";
  readonly #done: Promise<void>;

  /** Starts it. @param configPath the YAML @param port the port it listens on */
  constructor(configPath: string, port: number) {
    this.child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN_TS, "serve", "--config", configPath, "--port", String(port)],
      cwd: ROOT,
      env: { NO_COLOR: "1", TURNPIKE_PORT: "", TURNPIKE_STATE_DIR: "" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      detached: true,
    }).spawn();
    const decoder = new TextDecoder();
    const read = async (stream: ReadableStream<Uint8Array>) => {
      for await (const chunk of stream) this.#output += decoder.decode(chunk, { stream: true });
    };
    this.#done = Promise.all([read(this.child.stdout), read(this.child.stderr)]).then(() => {});
  }

  /** What it printed so far (stdout and stderr). */
  get output(): string {
    return this.#output;
  }

  /** Sends `signal` to its whole process group and waits for it to exit. */
  async kill(signal: Deno.Signal = "SIGKILL"): Promise<void> {
    try {
      Deno.kill(-this.child.pid, signal);
    } catch {
      // Already gone.
    }
    await this.child.status;
    await this.#done;
  }
}
