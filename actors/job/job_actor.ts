/**
 * JobActor: one replica's job. Each message is an event of the state machine (machine.ts); the
 * actor stores the new state in KV, tells its ModelActor, then carries out the effects through its
 * {@linkcode JobDriver}: the slow ones (sbatch, a health wait, a drain) run in the background and
 * come back as events, so the actor never blocks its mailbox on the cluster.
 */
import type { ActorContext, Address, Behavior, Cancellable } from "../runtime/mod.ts";
import { errorField, logger } from "../runtime/mod.ts";
import type { JobDriver } from "./driver.ts";
import {
  isEnded,
  type JobEffect,
  type JobEvent,
  type JobState,
  type MachineConfig,
  next,
} from "./machine.ts";
import type { JobStore } from "./store.ts";

/** The longest delay setTimeout takes (2^31 - 1 ms, about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Phases in which the replica is reached through its tunnel. */
const REACHED: ReadonlySet<string> = new Set(["running", "healthy", "draining"]);

/** The actor kind of every JobActor. */
export const JOB_KIND = "job";

/** Messages a JobActor handles. */
export type JobMessage =
  | { type: "event"; event: JobEvent }
  /** Answers its {@linkcode JobState}. */
  | { type: "state" };

/** What a JobActor tells its ModelActor after each change. */
export interface JobChanged {
  type: "job_changed";
  job: JobState;
}

/** What a JobActor asks its ModelActor when its time limit nears. */
export interface ReplaceRequest {
  type: "replace";
  id: string;
}

/** Settings of one JobActor. */
export interface JobActorOptions {
  /** Its state when KV has none yet (a new job). */
  initial: JobState;
  config: MachineConfig;
  driver: JobDriver;
  store: JobStore;
  /** Its ModelActor. */
  parent: Address;
  /** Clock in ms since the epoch. @default Date.now */
  now?: () => number;
}

/** A JobActor's state: the machine's, plus what lives only in this process. */
export interface JobActorState {
  job: JobState;
  timer: Cancellable | undefined;
  health: AbortController | undefined;
  /** The retire under way: a drain waits for it, then reads the in-flight count it gives. */
  retired: Promise<() => number> | undefined;
  /** No event handled yet: only then does `resume` apply (a `start` that came first did its work). */
  fresh: boolean;
}

function tellLater(ctx: ActorContext<JobMessage>, event: JobEvent): void {
  try {
    ctx.tell(ctx.self, { type: "event", event });
  } catch {
    // Stopped meanwhile: the event belongs to a job no one watches here any more.
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The behaviour of the JobActor for one replica job. */
export function jobBehavior(options: JobActorOptions): Behavior<JobActorState, JobMessage> {
  const now = options.now ?? Date.now;
  const { driver, store } = options;
  return {
    kind: JOB_KIND,
    async init(_id, ctx) {
      const stored = (await store.jobs(options.initial.model)).find((j) =>
        j.id === options.initial.id
      );
      tellLater(ctx, { type: "resume" });
      return {
        job: stored ?? options.initial,
        timer: undefined,
        health: undefined,
        retired: undefined,
        fresh: true,
      };
    },
    async receive(state, msg, ctx) {
      if (msg.type === "state") {
        ctx.reply(state.job);
        return state;
      }
      if (msg.event.type === "resume" && !state.fresh) return state;
      state.fresh = false;
      const before = state.job;
      const event = await portTakenInstead(before, msg.event);
      const { state: job, effects } = next(before, event, options.config, now());
      if (job !== before) {
        await store.putJob(job);
        state.job = job;
      }
      if (job.phase !== "running") {
        state.health?.abort();
        state.health = undefined;
      }
      for (const effect of effects) await run(state, effect, ctx);
      if (REACHED.has(before.phase) && !REACHED.has(job.phase)) {
        // The replica is gone (or going): its tunnel is not needed any more.
        driver.release(before).catch((error) =>
          logger.warn("cannot close a replica's tunnel", {
            model: before.model,
            replica: before.replica,
            error: errorField(error),
          })
        );
      }
      // After the effects: a replacement reported healthy is routable before the old job retires.
      if (job !== before) {
        ctx.tell(options.parent, { type: "job_changed", job } satisfies JobChanged);
      }
      return state;
    },
    onStop(state) {
      state.timer?.cancel();
      state.health?.abort();
    },
  };

  /**
   * A job that ended before its replica became healthy may have found its port taken on the node
   * (vLLM and the simulator exit at once then): its log says so, and it moves to the next port.
   */
  async function portTakenInstead(job: JobState, event: JobEvent): Promise<JobEvent> {
    if (event.type !== "observed" || event.info === undefined) return event;
    if (!isEnded(event.info.state) || event.info.jobId !== job.jobId) return event;
    if (job.phase !== "submitted" && job.phase !== "pending" && job.phase !== "running") {
      return event;
    }
    if (job.stopping || job.replacing) return event;
    const taken = await driver.portTaken(job).catch(() => false);
    return taken ? { type: "port_in_use" } : event;
  }

  async function run(
    state: JobActorState,
    effect: JobEffect,
    ctx: ActorContext<JobMessage>,
  ): Promise<void> {
    const job = state.job;
    const fields = { model: job.model, replica: job.replica, job: job.jobId };
    switch (effect.type) {
      case "submit":
        driver.submit(job, effect).then(
          (result) =>
            tellLater(
              ctx,
              result.ok
                ? { type: "submitted", jobId: result.jobId }
                : { type: "submit_rejected", error: result.error },
            ),
          (error) => tellLater(ctx, { type: "submit_lost", error: message(error) }),
        );
        return;
      case "cancel":
        await driver.cancel(effect.jobId).catch((error) =>
          logger.warn("cannot cancel a job", {
            ...fields,
            job: effect.jobId,
            error: errorField(error),
          })
        );
        return;
      case "find":
        driver.find(job, effect.key).then(
          (info) => tellLater(ctx, { type: "observed", info }),
          (error) => {
            logger.warn("cannot look a job up by its name", {
              ...fields,
              error: errorField(error),
            });
            // Try again a little later: the submit may or may not have reached SLURM.
            setTimeout(() => tellLater(ctx, { type: "submit_lost", error: message(error) }), 2_000);
          },
        );
        return;
      case "wait_healthy": {
        state.health?.abort();
        const controller = new AbortController();
        state.health = controller;
        driver.waitHealthy(job, effect, controller.signal).then(
          (outcome) => {
            if (!controller.signal.aborted) tellLater(ctx, outcome);
          },
          (error) => {
            if (!controller.signal.aborted) {
              tellLater(ctx, { type: "unhealthy", error: message(error) });
            }
          },
        );
        return;
      }
      case "register":
        await driver.routing?.register(job.model, driver.backendId(job), effect.endpoint).catch((
          error,
        ) => logger.error("cannot register a replica", { ...fields, error: errorField(error) }));
        logger.info("replica registered with the router", { ...fields, url: effect.endpoint });
        return;
      case "retire": {
        const routing = driver.routing;
        if (!routing) return;
        state.retired = routing.retire(job.model, driver.backendId(job)).catch((error) => {
          logger.error("cannot retire a replica", { ...fields, error: errorField(error) });
          return () => 0;
        });
        await state.retired;
        return;
      }
      case "drain": {
        const retired = state.retired ?? Promise.resolve(() => 0);
        const deadline = effect.deadlineMs;
        (async () => {
          const inFlight = await retired;
          while (inFlight() > 0 && now() < deadline) {
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
          tellLater(ctx, { type: "drained" });
        })();
        return;
      }
      case "timer":
        state.timer?.cancel();
        // A timer past setTimeout's 32-bit limit would fire at once: wake at the limit and re-arm.
        state.timer = ctx.schedule(Math.min(MAX_TIMER_MS, Math.max(0, effect.atMs - now())), {
          type: "event",
          event: { type: "tick" },
        });
        return;
      case "replace":
        ctx.tell(options.parent, { type: "replace", id: job.id } satisfies ReplaceRequest);
        return;
      case "log":
        logger[effect.level](effect.message, fields);
        return;
    }
  }
}
