/** ReplicaActor: keeps one launched replica process running; a crash or a failed start fails the actor so its supervisor restarts it. */
import { logger } from "../actors/runtime/log.ts";
import type { ModelConfig } from "../config/mod.ts";
import { launchReplica, type ReplicaProcess } from "./local_launcher.ts";
import { type Address, address } from "../actors/runtime/mod.ts";
import type { ActorContext, Behavior } from "../actors/runtime/mod.ts";

/** The actor kind of every ReplicaActor. */
export const REPLICA_KIND = "replica";

/** Messages a ReplicaActor handles. */
export type ReplicaMessage =
  | { type: "launched"; process: ReplicaProcess }
  | { type: "start_failed"; error: string }
  | { type: "exited"; code: number; pid: number }
  | { type: "status" };

/** What `status` answers. */
export interface ReplicaStatus {
  url: string;
  pid: number | undefined;
  /** Whether its process is up (it has answered `/health` once since it last started). */
  running: boolean;
  starts: number;
}

/** Settings of one ReplicaActor. */
export interface ReplicaActorOptions {
  /** The model entry it runs a replica of. */
  model: ModelConfig;
  /** Which replica of the model. */
  index: number;
  /**
   * The port it serves on; `0` takes a free one at the first start and keeps it across restarts,
   * unless a restart cannot start on it (another process took it), when it takes a new one.
   */
  port: number;
  /** Directory for its log under `logs/`. */
  stateDir: string;
  /** The model's RouterActor, told to add the replica as a backend once it is healthy. */
  router: Address;
  /** The backend id it is routed under. @default "127.0.0.1:<port>" */
  backendId?: string;
  /** Overrides of the launcher's timing, for tests. */
  startupTimeoutMs?: number;
  /** Extra environment of the process (`CUDA_VISIBLE_DEVICES` from `cluster.gpus`, `models[].env`). */
  env?: Record<string, string>;
}

/** A ReplicaActor's state. */
export interface ReplicaActorState {
  process: ReplicaProcess | undefined;
  /**
   * The launch under way (or done): a stop awaits it, so a process that is still starting, or
   * whose `launched` message was never handled, is ended too.
   */
  launch: Promise<ReplicaProcess | undefined>;
  starting: AbortController;
  stopping: boolean;
  url: string;
  starts: number;
}

function tellLater(ctx: ActorContext<ReplicaMessage>, msg: ReplicaMessage): void {
  try {
    ctx.tell(ctx.self, msg);
  } catch {
    // Stopped meanwhile; onStop ends the process through `launch`.
  }
}

/** The behaviour of the ReplicaActor for one launched replica. */
export function replicaBehavior(
  options: ReplicaActorOptions,
): Behavior<ReplicaActorState, ReplicaMessage> {
  // Both kept across restarts: the supervisor re-runs init on this same behaviour.
  let starts = 0;
  let port = options.port;
  /** The backend id last added to the router, removed there when a new port changes it. */
  let routedId: string | undefined;
  return {
    kind: REPLICA_KIND,
    init(_id, ctx) {
      starts++;
      const starting = new AbortController();
      const launch = launchReplica(options.model, {
        index: options.index,
        port,
        stateDir: options.stateDir,
        signal: starting.signal,
        ...(options.env === undefined ? {} : { env: options.env }),
        ...(options.startupTimeoutMs === undefined
          ? {}
          : { startupTimeoutMs: options.startupTimeoutMs }),
      });
      launch.then(
        (process) => tellLater(ctx, { type: "launched", process }),
        (error) =>
          tellLater(ctx, {
            type: "start_failed",
            error: error instanceof Error ? error.message : String(error),
          }),
      );
      return {
        process: undefined,
        // A failed launch has already stopped its process.
        launch: launch.catch(() => undefined),
        starting,
        stopping: false,
        url: `http://127.0.0.1:${port}`,
        starts,
      };
    },
    receive(state, msg, ctx) {
      switch (msg.type) {
        case "launched": {
          state.process = msg.process;
          state.url = msg.process.url;
          port = msg.process.port;
          const pid = msg.process.pid;
          msg.process.exited.then((code) => tellLater(ctx, { type: "exited", code, pid }));
          const id = options.backendId ?? `127.0.0.1:${port}`;
          if (routedId !== undefined && routedId !== id) {
            ctx.tell(options.router, { type: "remove", id: routedId });
          }
          routedId = id;
          ctx.tell(options.router, { type: "add", id, url: msg.process.url, source: "launched" });
          return state;
        }
        case "start_failed": {
          if (state.stopping) return state;
          // The kept port may be another process's now: the next start looks for a free one.
          if (options.port === 0) port = 0;
          throw new Error(
            `Replica ${options.index} of "${options.model.name}" did not start: ${msg.error}`,
          );
        }
        case "exited": {
          if (state.stopping || state.process?.pid !== msg.pid) return state;
          state.process = undefined;
          throw new Error(
            `Replica ${options.index} of "${options.model.name}" (pid ${msg.pid}) exited with code ${msg.code}`,
          );
        }
        case "status": {
          ctx.reply(
            {
              url: state.url,
              pid: state.process?.pid,
              running: state.process !== undefined,
              starts: state.starts,
            } satisfies ReplicaStatus,
          );
          return state;
        }
      }
    },
    async onStop(state) {
      state.stopping = true;
      state.starting.abort();
      const process = state.process ?? await state.launch;
      await process?.stop({ graceMs: 5_000 });
    },
  };
}

/** The actor kind of the supervisor of every launched replica. */
export const REPLICA_SUPERVISOR_KIND = "replicas";

/** Messages the replica supervisor handles. */
export type ReplicaSupervisorMessage =
  | { type: "start"; replica: ReplicaActorOptions; id: string }
  /** Stops the replica started under `id` (its process ends); replies when asked. */
  | { type: "stop"; id: string }
  | { type: "children" };

/**
 * The supervisor of the launched replicas: restarts a replica whose process dies (with backoff),
 * tolerating more restarts than the root does, so one broken replica does not stop the gateway.
 */
export function replicaSupervisorBehavior(): Behavior<
  { children: string[] },
  ReplicaSupervisorMessage
> {
  return {
    kind: REPLICA_SUPERVISOR_KIND,
    supervision: { strategy: "one_for_one", intensity: 30, periodMs: 60_000 },
    init() {
      return { children: [] };
    },
    receive(state, msg, ctx) {
      if (msg.type === "children") {
        ctx.reply([...state.children]);
        return state;
      }
      if (msg.type === "stop") {
        const child = state.children.find((c) => c === address(REPLICA_KIND, msg.id));
        if (child === undefined) {
          ctx.reply(false);
          return state;
        }
        ctx.stop(child);
        state.children = state.children.filter((c) => c !== child);
        // Answered once it is gone (its process ended), so the same id can be started again.
        const reply = ctx.deferReply();
        const system = ctx.system;
        (async () => {
          while (system.has(child)) await new Promise((resolve) => setTimeout(resolve, 50));
          reply(true);
        })();
        return state;
      }
      const ref = ctx.spawn(replicaBehavior(msg.replica), msg.id, {
        restart: "permanent",
        backoff: { minMs: 500, maxMs: 30_000 },
      });
      state.children.push(ref.address);
      ctx.reply(ref.address);
      return state;
    },
    onSignal(state, signal) {
      logger.error("replica failed", {
        actor: signal.child,
        error: signal.error,
        restarting: signal.restarting,
      });
      return state;
    },
  };
}
