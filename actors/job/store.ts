/**
 * The job actors' durable state in Deno KV: one record per replica job (the state machine's
 * {@linkcode JobState}) and one per model (the desired replicas), written after every transition
 * and before its effects run, so a restarted process (even after `kill -9`) re-attaches to the
 * jobs it had, and any process on the same KV file (`jobs status` alone) reads the same rows.
 */
import { z } from "zod";
import { type JobState, JobStateSchema } from "./machine.ts";
import { logger, retryKvBusy } from "../runtime/mod.ts";

const JOB = ["jobs", "job"] as const;
const MODEL = ["jobs", "model"] as const;

/** A model's record: what the ModelActor keeps the cluster at. */
export const ModelRecordSchema = z.object({
  model: z.string(),
  desired: z.number().int().min(0),
  /** Set by `stop`: a restarted gateway does not start it again until `start`. */
  stopped: z.boolean(),
  /** When `desired` last changed (the autoscale cooldown counts from it). */
  lastChangeMs: z.number().optional(),
  /** The last change's reason, for `status` and the log. */
  reason: z.string().optional(),
});

/** A model's record. */
export type ModelRecord = z.infer<typeof ModelRecordSchema>;

/** The records of the job actors in one KV store. */
export class JobStore {
  readonly #kv: Deno.Kv;

  /** @param kv the store the gateway and `deno task jobs` open */
  constructor(kv: Deno.Kv) {
    this.#kv = kv;
  }

  /** Writes a job's state. */
  async putJob(job: JobState): Promise<void> {
    await retryKvBusy(() => this.#kv.set([...JOB, job.model, job.id], job));
  }

  /** Deletes a job's record (a replaced job once its successor took over). */
  async deleteJob(model: string, id: string): Promise<void> {
    await retryKvBusy(() => this.#kv.delete([...JOB, model, id]));
  }

  /** Every job of `model`, or of every model; a record that does not parse is skipped with its key named. */
  async jobs(model?: string): Promise<JobState[]> {
    const prefix = model === undefined ? [...JOB] : [...JOB, model];
    const out: JobState[] = [];
    for await (const entry of this.#kv.list({ prefix })) {
      const parsed = JobStateSchema.safeParse(entry.value);
      if (parsed.success) out.push(parsed.data);
      else {
        logger.warn("skipping a job record that does not parse", {
          key: JSON.stringify(entry.key),
          problem: parsed.error.issues[0]?.message,
        });
      }
    }
    return out.sort((a, b) =>
      a.model < b.model
        ? -1
        : a.model > b.model
        ? 1
        : a.replica - b.replica || a.sinceMs - b.sinceMs
    );
  }

  /** A model's record, if it was ever started. */
  async model(model: string): Promise<ModelRecord | undefined> {
    const entry = await this.#kv.get([...MODEL, model]);
    const parsed = ModelRecordSchema.safeParse(entry.value);
    return parsed.success ? parsed.data : undefined;
  }

  /** Writes a model's record. */
  async putModel(record: ModelRecord): Promise<void> {
    await retryKvBusy(() => this.#kv.set([...MODEL, record.model], record));
  }
}
