/**
 * What differs between slurmrestd's API versions: the submit body, and how its answers are shaped.
 * v0.0.38 (SLURM 22.05) is checked against a live slurmrestd; v0.0.40 to v0.0.44 share one shape
 * (numbers as `{set, infinite, number}`, states as arrays; SchedMD's data_parser plugins,
 * src/plugins/data_parser/v0.0.4x/parsers.c).
 */
import type { JobInfo, SubmitResult } from "../types.ts";
import type { JobDirectives } from "./directives.ts";
import { dialect38 } from "./v0_0_38.ts";
import { dialect40 } from "./v0_0_40.ts";

/** The PATH a REST job gets (sbatch would export the submitter's; slurmrestd has none to give). */
export const REST_JOB_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** One API version's request and response shapes. */
export interface RestDialect {
  /** `v0.0.38`. */
  readonly version: string;
  /** The body of `POST /slurm/<version>/job/submit`. */
  submitBody(script: string, job: JobDirectives, environment: Record<string, string>): unknown;
  /** The submit answer: the job id, or slurmctld's errors. */
  parseSubmit(body: unknown): SubmitResult;
  /** `GET /slurm/<version>/jobs` and `/job/{id}`, with the user each job runs as. */
  parseJobs(body: unknown): (JobInfo & { user?: string })[];
  /** `GET /slurmdb/<version>/job/{id}`. */
  parseAccounting(body: unknown): JobInfo[];
  /** Error texts of any answer (`errors[]`), for messages. */
  errors(body: unknown): string[];
}

/** The API versions this client speaks, newest first. */
export const DIALECTS: readonly RestDialect[] = [
  ...["v0.0.44", "v0.0.43", "v0.0.42", "v0.0.41", "v0.0.40"].map(dialect40),
  dialect38,
];

/**
 * The newest version both sides speak, from the paths of slurmrestd's OpenAPI document
 * (`/slurm/v0.0.XX/job/submit`); undefined when there is none.
 */
export function pickDialect(paths: readonly string[]): RestDialect | undefined {
  const offered = new Set(
    paths.flatMap((path) => /^\/slurm\/(v\d+\.\d+\.\d+)\/job\/submit$/.exec(path)?.[1] ?? []),
  );
  return DIALECTS.find((dialect) => offered.has(dialect.version));
}

/** The versions an OpenAPI document offers for submitting, for a message. */
export function offeredVersions(paths: readonly string[]): string[] {
  return paths.flatMap((path) => /^\/slurm\/(v[\d.]+)\/job\/submit$/.exec(path)?.[1] ?? []).sort();
}
