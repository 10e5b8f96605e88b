/**
 * The job actors `deno task jobs` drives: a running gateway's (over `/api/jobs`) when one answers
 * on the config's port, else the actors run in this process on the config's KV file.
 */
import type { Config } from "../../config/schema.ts";
import type { JobsController } from "../../actors/job/types.ts";
import { adminKeyOf } from "../../proxy/auth/authenticator.ts";
import { gatewayAnswers, GatewayJobs, gatewayUrl } from "./gateway_jobs.ts";
import { openLocalJobs } from "./local_jobs.ts";
import type { Cluster } from "../slurm/connect.ts";

/** The job actors, wherever they run. */
export interface OpenedJobs {
  controller: JobsController;
  /** `gateway` (its admin API) or `alone` (in this process). */
  via: "gateway" | "alone";
  /** For messages: the gateway's URL, or the KV file. */
  where: string;
  /** Stops the actors run here (their state stays in KV); nothing for a gateway. */
  close(): Promise<void>;
}

/** Options of {@linkcode openJobs}. */
export interface OpenJobsOptions {
  /** `--admin-key`; else `TURNPIKE_ADMIN_KEY`, else the config's own. */
  adminKey?: string | undefined;
  /** Environment to read `TURNPIKE_ADMIN_KEY` and `auth.admin_key_env` from. @default Deno.env */
  env?: (name: string) => string | undefined;
  /** The cluster connection actors run alone use (left open); they open their own without it. */
  cluster?: Cluster;
}

/** The admin key to send: the flag, `TURNPIKE_ADMIN_KEY`, or what the config's `auth` names. */
export function adminKeyFor(
  config: Config,
  flag: string | undefined,
  env: (name: string) => string | undefined = (name) => Deno.env.get(name),
): string | undefined {
  return flag || env("TURNPIKE_ADMIN_KEY") || adminKeyOf(config.auth, env);
}

/** Opens the job actors of `config`: the running gateway's, or this process's own. */
export async function openJobs(config: Config, options: OpenJobsOptions = {}): Promise<OpenedJobs> {
  const url = gatewayUrl(config.proxy.host, config.proxy.port);
  if (await gatewayAnswers(url)) {
    return {
      controller: new GatewayJobs(url, {
        adminKey: adminKeyFor(config, options.adminKey, options.env),
      }),
      via: "gateway",
      where: url,
      close: () => Promise.resolve(),
    };
  }
  const local = await openLocalJobs(config, options.cluster ? { cluster: options.cluster } : {});
  return { ...local, via: "alone" };
}
