/**
 * ModelActor: keeps one model at its desired replicas. It owns a JobActor per replica job,
 * starts jobs for missing replica slots and stops the surplus, starts a replacement when a job's
 * time limit nears (and stops the old one once the replacement is healthy), forwards what the
 * poller saw, and applies autoscale decisions.
 */
import type { ActorContext, ActorRef, Behavior } from "../runtime/mod.ts";
import { logger } from "../runtime/mod.ts";
import type { JobInfo } from "../../cluster/slurm/types.ts";
import { type AutoscalePolicy, decideScale, type ReplicaLoad } from "./autoscale.ts";
import type { JobDriver } from "./driver.ts";
import { jobBehavior, type JobChanged, type JobMessage, type ReplaceRequest } from "./job_actor.ts";
import { FINAL_PHASES, type JobState, type MachineConfig, plannedJob } from "./machine.ts";
import { newSubmitKey } from "../../cluster/slurm/render.ts";
import type { JobStore, ModelRecord } from "./store.ts";

/** The actor kind of every ModelActor. */
export const MODEL_KIND = "job-model";

/** Messages a ModelActor handles. */
export type ModelMessage =
  /** Sets the desired replicas; `restart` starts failed jobs again. Replies when applied. */
  | { type: "set_desired"; desired: number; stopped: boolean; restart: boolean; reason: string }
  /** What squeue/sacct showed of the polled job ids (a polled id missing from `infos` is gone). */
  | { type: "observed"; polled: string[]; infos: Record<string, JobInfo> }
  | { type: "autoscale" }
  /** Answers the model's jobs. */
  | { type: "jobs" }
  | JobChanged
  | ReplaceRequest;

/** Settings of one ModelActor. */
export interface ModelActorOptions {
  model: string;
  config: MachineConfig;
  driver: JobDriver;
  store: JobStore;
  autoscale?: AutoscalePolicy | undefined;
  /**
   * Ports a replacement moves by, so it does not collide with the job it replaces (same node,
   * both serving for a while) nor with another replica's `base_port + i`: the most replicas the
   * model may have. @default 1
   */
  portStride?: number;
  /** Requests waiting in the gateway's queue for the model, for autoscaling. */
  queued?: () => number;
  now?: () => number;
}

/** A ModelActor's state. */
export interface ModelActorState {
  record: ModelRecord;
  jobs: Map<string, JobState>;
  refs: Map<string, ActorRef<JobMessage>>;
}

/** Jobs that hold a replica slot: alive and not asked to stop, or failed (until started again). */
function holdsSlot(job: JobState): boolean {
  if (job.phase === "failed") return true;
  return !FINAL_PHASES.has(job.phase) && !job.stopping;
}

function live(job: JobState): boolean {
  return !FINAL_PHASES.has(job.phase);
}

/** The behaviour of the ModelActor of `options.model`. */
export function modelBehavior(options: ModelActorOptions): Behavior<ModelActorState, ModelMessage> {
  const now = options.now ?? Date.now;
  const { store } = options;

  function spawnJob(
    state: ModelActorState,
    job: JobState,
    ctx: ActorContext<ModelMessage>,
  ): ActorRef<JobMessage> {
    const known = state.refs.get(job.id);
    if (known) return known;
    const ref = ctx.spawn(
      jobBehavior({
        initial: job,
        config: options.config,
        driver: options.driver,
        store,
        parent: ctx.self,
        now,
      }),
      job.id,
      { restart: "permanent", backoff: { minMs: 1_000, maxMs: 30_000 } },
    );
    state.refs.set(job.id, ref);
    state.jobs.set(job.id, job);
    return ref;
  }

  async function newJob(
    state: ModelActorState,
    replica: number,
    ctx: ActorContext<ModelMessage>,
    portOffset = 0,
  ): Promise<void> {
    const job = { ...plannedJob(newSubmitKey(), options.model, replica, now()), portOffset };
    await store.putJob(job);
    spawnJob(state, job, ctx).tell({ type: "event", event: { type: "start" } });
  }

  /** Starts jobs for missing slots and stops the surplus (`drainFirst` first, then the highest). */
  async function reconcile(
    state: ModelActorState,
    ctx: ActorContext<ModelMessage>,
    drainFirst?: number,
  ): Promise<void> {
    const jobs = [...state.jobs.values()];
    const slots = new Set(jobs.filter(holdsSlot).map((j) => j.replica));
    const desired = state.record.stopped ? 0 : state.record.desired;
    for (let replica = 0; slots.size < desired; replica++) {
      if (slots.has(replica)) continue;
      slots.add(replica);
      const reusable = jobs.find((j) => j.replica === replica && FINAL_PHASES.has(j.phase));
      if (reusable) {
        spawnJob(state, reusable, ctx).tell({ type: "event", event: { type: "start" } });
      } else await newJob(state, replica, ctx);
    }
    if (slots.size > desired) {
      const order = [...slots].sort((a, b) => a === drainFirst ? -1 : b === drainFirst ? 1 : b - a);
      for (const replica of order.slice(0, slots.size - desired)) {
        for (const job of jobs) {
          if (job.replica !== replica) continue;
          if (job.phase === "failed") {
            // A failed job holds nothing on the cluster: it just stops counting.
            await store.putJob({ ...job, stopping: true, phase: "cancelled", sinceMs: now() });
            state.jobs.set(job.id, { ...job, stopping: true, phase: "cancelled" });
          } else if (holdsSlot(job)) {
            state.refs.get(job.id)?.tell({ type: "event", event: { type: "stop" } });
          }
        }
      }
    }
  }

  /** Drops the record of a finished job whose slot another job holds (a replaced one). */
  async function tidy(state: ModelActorState, job: JobState, ctx: ActorContext<ModelMessage>) {
    if (job.phase !== "cancelled") return;
    const successor = [...state.jobs.values()].some((j) =>
      j.id !== job.id && j.replica === job.replica && live(j)
    );
    if (!successor) return;
    state.jobs.delete(job.id);
    const ref = state.refs.get(job.id);
    state.refs.delete(job.id);
    await store.deleteJob(job.model, job.id);
    if (ref) ctx.stop(ref.address);
  }

  function loadView(state: ModelActorState): ReplicaLoad[] {
    const report = options.driver.routing?.load?.(options.model);
    if (!report) return [];
    const out: ReplicaLoad[] = [];
    for (const job of state.jobs.values()) {
      if (job.phase !== "healthy" || job.stopping) continue;
      const load = report.get(options.driver.backendId(job));
      if (!load) continue;
      out.push({ replica: job.replica, ...load });
    }
    return out;
  }

  return {
    kind: MODEL_KIND,
    supervision: { strategy: "one_for_one", intensity: 20, periodMs: 60_000 },
    async init(_id, ctx) {
      const record = await store.model(options.model) ??
        { model: options.model, desired: 0, stopped: false };
      const state: ModelActorState = { record, jobs: new Map(), refs: new Map() };
      for (const job of await store.jobs(options.model)) {
        state.jobs.set(job.id, job);
        // Finished jobs get an actor when they are started again.
        if (live(job)) spawnJob(state, job, ctx);
      }
      return state;
    },
    async receive(state, msg, ctx) {
      switch (msg.type) {
        case "set_desired": {
          const changed = msg.desired !== state.record.desired ||
            msg.stopped !== state.record.stopped;
          state.record = {
            ...state.record,
            desired: msg.desired,
            stopped: msg.stopped,
            ...(changed ? { lastChangeMs: now(), reason: msg.reason } : {}),
          };
          await store.putModel(state.record);
          if (changed) {
            logger.info("desired replicas set", {
              model: options.model,
              desired: msg.desired,
              reason: msg.reason,
            });
          }
          if (msg.restart) {
            for (const job of state.jobs.values()) {
              if (job.phase === "failed" && job.replica < msg.desired) {
                spawnJob(state, job, ctx).tell({ type: "event", event: { type: "start" } });
              }
            }
          }
          await reconcile(state, ctx);
          ctx.reply(state.record);
          return state;
        }
        case "job_changed": {
          const job = msg.job;
          if (!state.jobs.has(job.id)) return state;
          state.jobs.set(job.id, job);
          if (job.phase === "healthy") {
            // A replacement took over: the job it replaces drains and ends.
            for (const old of state.jobs.values()) {
              if (old.id !== job.id && old.replica === job.replica && old.replacing && live(old)) {
                state.refs.get(old.id)?.tell({ type: "event", event: { type: "stop" } });
              }
            }
          }
          await tidy(state, job, ctx);
          // A job asked to stop by a scale-down or stop leaves its slot free: nothing to refill.
          if (!job.stopping) await reconcile(state, ctx);
          return state;
        }
        case "replace": {
          const old = state.jobs.get(msg.id);
          if (!old || !live(old)) return state;
          const other = [...state.jobs.values()].some((j) =>
            j.id !== old.id && j.replica === old.replica && live(j)
          );
          if (!other) {
            // Both serve for a while, perhaps on one node: the replacement takes other ports.
            const stride = options.portStride ?? 1;
            const offset = old.portOffset >= stride
              ? old.portOffset - stride
              : old.portOffset + stride;
            await newJob(state, old.replica, ctx, offset);
          }
          return state;
        }
        case "observed": {
          const polled = new Set(msg.polled);
          for (const job of state.jobs.values()) {
            if (job.jobId === undefined || !polled.has(job.jobId)) continue;
            state.refs.get(job.id)?.tell({
              type: "event",
              event: { type: "observed", info: msg.infos[job.jobId] },
            });
          }
          return state;
        }
        case "autoscale": {
          const policy = options.autoscale;
          if (!policy || state.record.stopped || state.record.desired === 0) return state;
          const decision = decideScale(
            {
              desired: state.record.desired,
              replicas: loadView(state),
              queued: options.queued?.() ?? 0,
              lastChangeMs: state.record.lastChangeMs,
            },
            policy,
            now(),
          );
          if (decision.desired === state.record.desired) return state;
          logger.info("autoscale", {
            model: options.model,
            from: state.record.desired,
            to: decision.desired,
            reason: decision.reason,
          });
          state.record = {
            ...state.record,
            desired: decision.desired,
            lastChangeMs: now(),
            reason: decision.reason,
          };
          await store.putModel(state.record);
          await reconcile(state, ctx, decision.drain);
          return state;
        }
        case "jobs":
          ctx.reply([...state.jobs.values()]);
          return state;
      }
    },
    onSignal(state, signal) {
      logger.error("job actor failed", {
        actor: signal.child,
        error: signal.error,
        restarting: signal.restarting,
      });
      return state;
    },
  };
}
