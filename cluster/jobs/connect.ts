/**
 * `jobs connect`: a gateway in this process whose backends are local port forwards to the
 * running replicas' node:port, kept in step with the jobs as they start and end.
 */
import { loadConfig } from "../../config/loader.ts";
import { type Config, ConfigSchema } from "../../config/schema.ts";
import type { JobStatusRow } from "../../actors/job/types.ts";
import { installShutdownHandlers, logger } from "../../actors/runtime/mod.ts";
import { startGateway } from "../../gateway/gateway.ts";
import { authSummary, exposureOf } from "../../proxy/auth/exposure.ts";
import { AuthSetupError } from "../../proxy/auth/jwt.ts";
import type { Tunnel, Tunnels } from "../slurm/types.ts";
import { openCluster } from "../slurm/connect.ts";
import type { JobsInvocation } from "./args.ts";
import { openJobs } from "./open_jobs.ts";
import { gatewayAnswers, gatewayUrl } from "./gateway_jobs.ts";

/** A replica connect routes to: where it listens on its node. */
export interface ReplicaTarget {
  /** `model/replica@node:port`, what a tunnel and backend are kept by. */
  key: string;
  model: string;
  replica: number;
  jobId: string | undefined;
  node: string;
  port: number;
}

/** Seconds between reads of the rows. */
const SYNC_INTERVAL_MS = 2_000;

/** The port of `endpoint` when it is on `node` itself (not a tunnel's local end elsewhere). */
function endpointPortOn(endpoint: string | undefined, node: string): number | undefined {
  if (endpoint === undefined) return undefined;
  try {
    const url = new URL(endpoint);
    if (url.hostname !== node) return undefined;
    return url.port === "" ? (url.protocol === "https:" ? 443 : 80) : Number(url.port);
  } catch {
    return undefined;
  }
}

/**
 * The replicas to route to: each row whose job runs (running or healthy) on a known node, at the
 * row's port, else its endpoint's on that node, else the model's `base_port + replica`.
 */
export function replicaTargets(
  rows: readonly JobStatusRow[],
  models: readonly { name: string; base_port: number }[],
): ReplicaTarget[] {
  const targets: ReplicaTarget[] = [];
  for (const row of rows) {
    if (row.phase !== "running" && row.phase !== "healthy") continue;
    if (row.node === undefined) continue;
    const model = models.find((m) => m.name === row.model);
    if (model === undefined) continue;
    const port = row.port ?? endpointPortOn(row.endpoint, row.node) ??
      model.base_port + row.replica;
    targets.push({
      key: `${row.model}/${row.replica}@${row.node}:${port}`,
      model: row.model,
      replica: row.replica,
      jobId: row.jobId,
      node: row.node,
      port,
    });
  }
  return targets;
}

/** The gateway's own config: `config` with no launched models (connect adds the tunnels). */
export function connectGatewayConfig(config: Config): Config {
  return ConfigSchema.parse({ ...config, cluster: { type: "local" }, models: [] });
}

interface Routed {
  target: ReplicaTarget;
  tunnel: Tunnel;
  backendId: string;
}

/** The part of the gateway's fleet connect changes: the backends it routes to. */
export interface BackendFleet {
  addBackend(
    model: string,
    backend: { id: string; url: string; source: "static" },
  ): Promise<unknown>;
  removeBackend(id: string, model?: string): Promise<boolean>;
}

/** Keeps one tunnel and one backend per running replica. */
class ReplicaLinks {
  readonly #routed = new Map<string, Routed>();
  readonly #tunnels: Tunnels;
  readonly #fleet: BackendFleet;

  constructor(tunnels: Tunnels, fleet: BackendFleet) {
    this.#tunnels = tunnels;
    this.#fleet = fleet;
  }

  async sync(targets: readonly ReplicaTarget[]): Promise<void> {
    const wanted = new Map(targets.map((t) => [t.key, t]));
    for (const [key, routed] of this.#routed) {
      if (wanted.has(key)) continue;
      this.#routed.delete(key);
      await this.#fleet.removeBackend(routed.backendId, routed.target.model);
      await routed.tunnel.close();
      console.log(`Disconnected ${describe(routed.target)}: its job no longer runs`);
    }
    for (const target of wanted.values()) {
      if (this.#routed.has(target.key)) continue;
      try {
        const tunnel = await this.#tunnels.forward(target.node, target.port);
        const backendId = `${target.model}-${target.replica}`;
        await this.#fleet.addBackend(target.model, {
          id: backendId,
          url: tunnel.url,
          source: "static",
        });
        this.#routed.set(target.key, { target, tunnel, backendId });
        console.log(`Connected ${describe(target)} at ${tunnel.url}`);
      } catch (error) {
        logger.warn("jobs connect: cannot open a tunnel to a replica; retrying", {
          replica: `${target.model}/${target.replica}`,
          node: target.node,
          port: target.port,
          error: error instanceof Error ? error.message : String(error),
        });
      }
    }
  }

  async close(): Promise<void> {
    for (const routed of this.#routed.values()) await routed.tunnel.close();
    this.#routed.clear();
  }
}

function describe(target: ReplicaTarget): string {
  const job = target.jobId === undefined ? "" : `job ${target.jobId}, `;
  return `${target.model}/${target.replica} (${job}${target.node}:${target.port})`;
}

/** Runs `jobs connect`; resolves to the exit code once a signal has stopped it. */
export async function runConnect(
  invocation: Extract<JobsInvocation, { command: "connect" }>,
): Promise<number> {
  const config = await loadConfig(invocation.config);
  if (config.cluster.type !== "slurm") {
    console.error(
      'jobs connect routes to SLURM jobs, and this config\'s cluster.type is "local": ' +
        "`deno task serve` runs its replicas",
    );
    return 2;
  }
  const host = invocation.host ?? config.proxy.host;
  const exposure = exposureOf({
    authEnabled: config.auth.enabled,
    host,
    insecure: invocation.insecure,
  });
  if (!exposure.ok) {
    console.error(exposure.message);
    return 2;
  }
  const port = invocation.port ?? config.proxy.port;
  const configured = gatewayUrl(config.proxy.host, config.proxy.port);
  if (port === config.proxy.port && await gatewayAnswers(configured).catch(() => true)) {
    console.error(
      `A gateway already answers on ${configured}: it routes to the jobs itself. Use it, or ` +
        "give --port to run a second gateway here",
    );
    return 1;
  }
  const cluster = await openCluster(config);
  const jobs = await openJobs(config, { cluster }).catch(async (error) => {
    await cluster.close();
    throw error;
  });
  const gateway = await startGateway(connectGatewayConfig(config), {
    port,
    hostname: host,
  }).catch((error) => {
    if (error instanceof AuthSetupError) return error;
    throw error;
  });
  if (gateway instanceof AuthSetupError) {
    console.error(`Cannot start the gateway: ${gateway.message}`);
    await jobs.close();
    await cluster.close();
    return 2;
  }
  const links = new ReplicaLinks(cluster.tunnels, gateway.fleet);
  let stopped = false;
  const syncOnce = async () => {
    try {
      await links.sync(replicaTargets(await jobs.controller.status(), config.models));
    } catch (error) {
      logger.warn("jobs connect: cannot read the jobs; retrying", {
        error: error instanceof Error ? error.message : String(error),
      });
    }
  };
  console.log(exposure.notice ?? authSummary(gateway.auth));
  console.log(
    `Turnpike gateway listening on ${gateway.url} (jobs connect: ${
      jobs.via === "gateway" ? `jobs of the gateway at ${jobs.where}` : "jobs run by this process"
    }; tunnels through ${cluster.shell.where})`,
  );
  console.log(`Models: ${config.models.map((m) => m.name).join(", ") || "(none)"}`);
  const loop = (async () => {
    while (!stopped) {
      await syncOnce();
      await new Promise((resolve) => setTimeout(resolve, SYNC_INTERVAL_MS));
    }
  })();
  const handlers = installShutdownHandlers({
    shutdown: async (options) => {
      stopped = true;
      await loop;
      await gateway.close(options);
      await links.close();
      await jobs.close();
      await cluster.close();
    },
  }, { deadlineMs: config.proxy.drain_timeout * 1000, exit: false });
  return await handlers.stopped;
}
