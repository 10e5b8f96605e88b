/**
 * The job state machine of design.md section 4 as a pure function: one replica's job, an event
 * (a submit's reply, what squeue/sacct showed, a health result, a timer, a stop) and the clock
 * give the next state and the effects the JobActor carries out (submit, cancel, wait for health,
 * register or retire the backend, drain, set a timer, ask for a replacement).
 */
import { z } from "zod";
import type { JobInfo, PendingGroup, SlurmState } from "../../cluster/slurm/types.ts";
import { SLURM_STATES } from "../../cluster/slurm/types.ts";
import { JOB_PHASES } from "./types.ts";

/** One replica's job as the machine (and KV) keeps it. */
export const JobStateSchema = z.object({
  /** A random id of this job record (lowercase letters and digits); each submit's idempotency key is `<id><submits in base 36>`. */
  id: z.string(),
  model: z.string(),
  replica: z.number().int().min(0),
  phase: z.enum(JOB_PHASES),
  /** When it entered its phase, ms since the epoch. */
  sinceMs: z.number(),
  /** Submits so far (each partition fallback and resubmit counts); a new start resets it. */
  attempts: z.number().int().min(0),
  /** Submits ever made for this record, never reset: each one's key is new. */
  submits: z.number().int().min(0).default(0),
  /** The idempotency key of the latest submit, carried in its job name. */
  key: z.string().optional(),
  /** Set while a submit is under way and its reply not seen: a restart looks the key up in squeue. */
  submitIssuedAtMs: z.number().optional(),
  jobId: z.string().optional(),
  /** Index into the partitions by priority (highest first). */
  partitionIndex: z.number().int().min(0),
  /** Added to the replica's port (`base_port + replica`) after a port was found taken. */
  portOffset: z.number().int().min(0),
  slurmState: z.enum(SLURM_STATES).optional(),
  partition: z.string().optional(),
  node: z.string().optional(),
  /** The port of the current submit. */
  port: z.number().int().optional(),
  pendingReason: z.string().optional(),
  pendingGroup: z.enum(["quota", "resources", "held", "dependency", "priority", "other"])
    .optional(),
  pendingSinceMs: z.number().optional(),
  startedAtMs: z.number().optional(),
  timeLimitMs: z.number().optional(),
  /** The backend URL while it is registered with the router. */
  endpoint: z.string().optional(),
  lastError: z.string().optional(),
  /** In backoff: when the next submit is due. */
  retryAtMs: z.number().optional(),
  /** When squeue and sacct both stopped showing the job (sacct lags a few seconds). */
  missingSinceMs: z.number().optional(),
  /** A replacement was asked for (time limit near); this job ends once it is healthy. */
  replacing: z.boolean().optional(),
  /** A stop was asked for: once the job is gone it is `cancelled`, never resubmitted. */
  stopping: z.boolean().optional(),
});

/** One replica's job. */
export type JobState = z.infer<typeof JobStateSchema>;

/** A partition the machine submits to, in priority order. */
export interface PartitionChoice {
  name: string;
  qos?: string;
  account?: string;
}

/** What the machine needs to know, in ms; built once per model from the config. */
export interface MachineConfig {
  /** Highest priority first. */
  partitions: readonly PartitionChoice[];
  basePort: number;
  pendingTimeoutMs: number;
  maxAttempts: number;
  backoff: { initialMs: number; maxMs: number };
  /** How long before the time limit a replacement is submitted. */
  signalLeadMs: number;
  startupTimeoutMs: number;
  /** How long in-flight requests may take to finish when a replica drains. */
  drainDeadlineMs: number;
  /** How long a job may be missing from both squeue and sacct before it counts as lost. */
  missingGraceMs: number;
  /** The group of a PENDING reason. */
  pendingGroupOf(reason: string): PendingGroup;
  /** Whether a PENDING reason never clears by itself (`PartitionDown`, `DependencyNeverSatisfied`, a QOS limit). */
  neverClears(reason: string): boolean;
}

/** What happened to a job. */
export type JobEvent =
  /** Submit it (a new job, or a finished one started again). */
  | { type: "start" }
  /** The actor (re)started on a stored state: pick up the waits and timers a process loses. */
  | { type: "resume" }
  /** sbatch answered with a job id. */
  | { type: "submitted"; jobId: string }
  /** sbatch refused the job; `error` is its own text. */
  | { type: "submit_rejected"; error: string }
  /** sbatch's reply was lost (the connection dropped): the job may exist; look it up by key. */
  | { type: "submit_lost"; error: string }
  /** What squeue (or else sacct) shows for the job now; undefined when neither shows it. */
  | { type: "observed"; info: JobInfo | undefined }
  /** The replica answered `/health` at `endpoint` (a tunnel's local end over SSH). */
  | { type: "healthy"; endpoint: string }
  /** The replica did not answer `/health` in time (or its log says why). */
  | { type: "unhealthy"; error: string }
  /** The replica's log says its port was taken on the node. */
  | { type: "port_in_use" }
  /** A timer the machine asked for came due. */
  | { type: "tick" }
  | { type: "stop" }
  /** The requests in flight on the drained replica finished (or their deadline passed). */
  | { type: "drained" };

/** What the JobActor does after a transition (after it stored the new state). */
export type JobEffect =
  | { type: "submit"; key: string; partition: PartitionChoice; port: number; attempt: number }
  | { type: "cancel"; jobId: string }
  /** Find a job whose submit reply was lost by its idempotency key (job name) in squeue. */
  | { type: "find"; key: string }
  | { type: "wait_healthy"; node: string; port: number; deadlineMs: number }
  | { type: "register"; endpoint: string }
  /** Remove the backend from the router: no new requests go there. */
  | { type: "retire"; endpoint: string }
  /** Send `drained` once the backend has nothing in flight, or at `deadlineMs`. */
  | { type: "drain"; endpoint: string; deadlineMs: number }
  /** Send `tick` at `atMs`. */
  | { type: "timer"; atMs: number }
  /** Ask the ModelActor for a replacement of this replica (its time limit is near). */
  | { type: "replace" }
  /** A decision worth a log line, with its reason. */
  | { type: "log"; level: "info" | "warn" | "error"; message: string };

/** A transition's result. */
export interface Transition {
  state: JobState;
  effects: JobEffect[];
}

/** States in which SLURM keeps the job alive but not yet running the replica. */
const WAITING: ReadonlySet<SlurmState> = new Set([
  "PENDING",
  "CONFIGURING",
  "REQUEUED",
  "REQUEUE_FED",
  "REQUEUE_HOLD",
  "RESV_DEL_HOLD",
  "SUSPENDED",
  "STOPPED",
  "RESIZING",
]);

/** States in which the replica's process runs (or may). */
const LIVE: ReadonlySet<SlurmState> = new Set(["RUNNING", "SIGNALING", "STAGE_OUT"]);

/** Whether SLURM is done with a job in `state` (it will not run, or run again, by itself). */
export function isEnded(state: SlurmState): boolean {
  return !WAITING.has(state) && !LIVE.has(state) && state !== "COMPLETING";
}

/** The phases whose job is over; nothing moves them but a new start. */
export const FINAL_PHASES: ReadonlySet<string> = new Set(["cancelled", "failed"]);

/** A new job record for `replica` of `model`, planned (nothing submitted). */
export function plannedJob(
  id: string,
  model: string,
  replica: number,
  nowMs: number,
): JobState {
  return {
    id,
    model,
    replica,
    phase: "planned",
    sinceMs: nowMs,
    attempts: 0,
    submits: 0,
    partitionIndex: 0,
    portOffset: 0,
  };
}

/** The delay before the resubmit that follows `attempts` submits: `initial * 2^(attempts-1)`, capped. */
export function backoffMs(config: MachineConfig, attempts: number): number {
  const exponent = Math.max(0, attempts - 1);
  return Math.min(config.backoff.maxMs, config.backoff.initialMs * 2 ** exponent);
}

/** The next state of `state` after `event` at `nowMs`, with the effects to carry out. */
export function next(
  state: JobState,
  event: JobEvent,
  config: MachineConfig,
  nowMs: number,
): Transition {
  if (FINAL_PHASES.has(state.phase) && event.type !== "start") return { state, effects: [] };
  switch (event.type) {
    case "start":
      return onStart(state, config, nowMs);
    case "resume":
      return onResume(state, config, nowMs);
    case "submitted":
      return onSubmitted(state, event.jobId, nowMs);
    case "submit_rejected":
      return onRejected(state, event.error, config, nowMs);
    case "submit_lost":
      return {
        state: { ...state, lastError: event.error },
        effects: state.key ? [{ type: "find", key: state.key }] : [],
      };
    case "observed":
      return onObserved(state, event.info, config, nowMs);
    case "healthy":
      return onHealthy(state, event.endpoint, nowMs);
    case "unhealthy":
      if (state.phase !== "running" || state.jobId === undefined) return { state, effects: [] };
      return fail(state, event.error, config, nowMs, [{ type: "cancel", jobId: state.jobId }]);
    case "port_in_use":
      return onPortInUse(state, config, nowMs);
    case "tick":
      return onTick(state, config, nowMs);
    case "stop":
      return onStop(state, config, nowMs);
    case "drained":
      if (state.phase !== "draining") return { state, effects: [] };
      return cancelNow(state, nowMs);
  }
}

function enter(state: JobState, phase: JobState["phase"], nowMs: number): JobState {
  return state.phase === phase ? state : { ...state, phase, sinceMs: nowMs };
}

/** Drops what belonged to the previous submit. */
function forgetJob(state: JobState): JobState {
  const {
    jobId: _jobId,
    slurmState: _slurmState,
    node: _node,
    pendingReason: _pendingReason,
    pendingGroup: _pendingGroup,
    pendingSinceMs: _pendingSinceMs,
    startedAtMs: _startedAtMs,
    timeLimitMs: _timeLimitMs,
    endpoint: _endpoint,
    submitIssuedAtMs: _submitIssuedAtMs,
    missingSinceMs: _missingSinceMs,
    retryAtMs: _retryAtMs,
    ...rest
  } = state;
  return rest;
}

/** Issues a submit on the current partition and port. */
function submit(state: JobState, config: MachineConfig, nowMs: number): Transition {
  const partition = config.partitions[state.partitionIndex] ?? config.partitions[0];
  if (!partition) {
    return {
      state: { ...enter(state, "failed", nowMs), lastError: "no partition is configured" },
      effects: [{ type: "log", level: "error", message: "no partition to submit to" }],
    };
  }
  const attempt = state.attempts + 1;
  const submits = state.submits + 1;
  const key = `${state.id}${submits.toString(36)}`;
  const port = config.basePort + state.replica + state.portOffset;
  const cleared = forgetJob(state);
  return {
    state: {
      ...enter(cleared, "planned", nowMs),
      attempts: attempt,
      submits,
      key,
      submitIssuedAtMs: nowMs,
      partition: partition.name,
      port,
    },
    effects: [{ type: "submit", key, partition, port, attempt }],
  };
}

function onStart(state: JobState, config: MachineConfig, nowMs: number): Transition {
  if (state.phase === "planned" && state.submitIssuedAtMs !== undefined && state.key) {
    // A submit was under way when the process stopped: find it before submitting again.
    return { state, effects: [{ type: "find", key: state.key }] };
  }
  if (FINAL_PHASES.has(state.phase)) {
    const fresh: JobState = {
      ...forgetJob(state),
      attempts: 0,
      partitionIndex: 0,
      portOffset: 0,
      replacing: false,
      stopping: false,
    };
    return submit(fresh, config, nowMs);
  }
  if (state.phase !== "planned") return { state, effects: [] };
  return submit(state, config, nowMs);
}

function onResume(state: JobState, config: MachineConfig, nowMs: number): Transition {
  switch (state.phase) {
    case "planned":
      return state.submitIssuedAtMs !== undefined && state.key
        ? { state, effects: [{ type: "find", key: state.key }] }
        : { state, effects: [] };
    case "running":
    case "healthy": {
      // The health wait and the tunnel were the old process's: wait (and register) again.
      if (state.node === undefined) return { state, effects: [] };
      const { endpoint: _endpoint, ...rest } = state;
      return {
        state: enter(rest, "running", nowMs),
        effects: [{
          type: "wait_healthy",
          node: state.node,
          port: state.port ?? config.basePort + state.replica,
          deadlineMs: nowMs + config.startupTimeoutMs,
        }],
      };
    }
    case "draining":
      return cancelNow(state, nowMs);
    case "backoff":
      return { state, effects: [{ type: "timer", atMs: state.retryAtMs ?? nowMs }] };
    case "pending":
      return {
        state,
        effects: [{
          type: "timer",
          atMs: (state.pendingSinceMs ?? nowMs) + config.pendingTimeoutMs,
        }],
      };
    default:
      return { state, effects: [] };
  }
}

function onSubmitted(state: JobState, jobId: string, nowMs: number): Transition {
  if (state.phase !== "planned" && state.jobId === jobId) return { state, effects: [] };
  const { submitIssuedAtMs: _issued, ...rest } = state;
  const submitted: JobState = { ...enter(rest, "submitted", nowMs), jobId };
  if (state.stopping) {
    return {
      state: enter(submitted, "cancelling", nowMs),
      effects: [{ type: "cancel", jobId }],
    };
  }
  return { state: submitted, effects: [] };
}

function onRejected(
  state: JobState,
  error: string,
  config: MachineConfig,
  nowMs: number,
): Transition {
  const rejected = forgetJob({ ...state, lastError: error });
  if (state.stopping) return { state: enter(rejected, "cancelled", nowMs), effects: [] };
  const nextIndex = state.partitionIndex + 1;
  const from = config.partitions[state.partitionIndex]?.name ?? "?";
  if (nextIndex < config.partitions.length && state.attempts < config.maxAttempts) {
    const to = config.partitions[nextIndex]?.name ?? "?";
    const moved = submit({ ...rejected, partitionIndex: nextIndex }, config, nowMs);
    moved.effects.unshift({
      type: "log",
      level: "warn",
      message: `partition ${from} refused the job (${error}); trying ${to}`,
    });
    return moved;
  }
  // Every partition refused it: start again from the first after a backoff.
  return backoff(
    { ...rejected, partitionIndex: 0 },
    `sbatch refused the job: ${error}`,
    config,
    nowMs,
  );
}

/** Waits before the next submit, or fails once the attempts are spent. */
function backoff(
  state: JobState,
  reason: string,
  config: MachineConfig,
  nowMs: number,
): Transition {
  const cleared = forgetJob({ ...state, lastError: reason, replacing: false });
  if (state.attempts >= config.maxAttempts) {
    return {
      state: enter(cleared, "failed", nowMs),
      effects: [{
        type: "log",
        level: "error",
        message: `failed after ${state.attempts} attempts: ${reason}`,
      }],
    };
  }
  const retryAtMs = nowMs + backoffMs(config, state.attempts);
  return {
    state: { ...enter(cleared, "backoff", nowMs), retryAtMs },
    effects: [
      {
        type: "log",
        level: "warn",
        message: `${reason}; resubmitting in ${Math.round((retryAtMs - nowMs) / 1000)} s (attempt ${
          state.attempts + 1
        } of ${config.maxAttempts})`,
      },
      { type: "timer", atMs: retryAtMs },
    ],
  };
}

/** The job ended or broke: retire its backend first, then back off (or fail). */
function fail(
  state: JobState,
  reason: string,
  config: MachineConfig,
  nowMs: number,
  first: JobEffect[] = [],
): Transition {
  const retire: JobEffect[] = state.endpoint ? [{ type: "retire", endpoint: state.endpoint }] : [];
  if (state.stopping || state.replacing) {
    // Asked to end (or superseded by its replacement): gone is what was wanted.
    return {
      state: enter(forgetJob(state), "cancelled", nowMs),
      effects: [...retire, ...first],
    };
  }
  const next = backoff(state, reason, config, nowMs);
  return { state: next.state, effects: [...retire, ...first, ...next.effects] };
}

function describeEnd(info: JobInfo): string {
  const exit = info.exitCode ? ` (exit ${info.exitCode})` : "";
  const reason = info.reason ? `, ${info.reason}` : "";
  return `job ${info.jobId} ended ${info.state}${exit}${reason}`;
}

function onObserved(
  state: JobState,
  info: JobInfo | undefined,
  config: MachineConfig,
  nowMs: number,
): Transition {
  if (state.phase === "planned") {
    // A lost submit found again by its key, or known to be absent.
    if (info === undefined) {
      if (state.submitIssuedAtMs === undefined) return { state, effects: [] };
      const { submitIssuedAtMs: _issued, ...rest } = state;
      // Never reached SLURM: the attempt did not happen (the next submit gets a new key all the same).
      return submit({ ...rest, attempts: Math.max(0, state.attempts - 1) }, config, nowMs);
    }
    const submitted = onSubmitted(state, info.jobId, nowMs);
    const observed = onObserved(submitted.state, info, config, nowMs);
    return { state: observed.state, effects: [...submitted.effects, ...observed.effects] };
  }
  if (state.jobId === undefined) return { state, effects: [] };
  if (info === undefined) return onMissing(state, config, nowMs);
  if (info.jobId !== state.jobId) return { state, effects: [] };
  const seen: JobState = {
    ...state,
    slurmState: info.state,
    ...(info.partition ? { partition: info.partition } : {}),
  };
  delete seen.missingSinceMs;
  if (state.phase === "cancelling") {
    if (WAITING.has(info.state) || LIVE.has(info.state) || info.state === "COMPLETING") {
      return { state: seen, effects: [] };
    }
    return { state: enter(forgetJob(seen), "cancelled", nowMs), effects: [] };
  }
  if (state.phase === "draining") {
    if (LIVE.has(info.state) || WAITING.has(info.state)) return { state: seen, effects: [] };
    return { state: enter(forgetJob(seen), "cancelled", nowMs), effects: [] };
  }
  if (WAITING.has(info.state)) return onWaiting(seen, info, config, nowMs);
  if (LIVE.has(info.state)) return onRunning(seen, info, config, nowMs);
  return fail(seen, describeEnd(info), config, nowMs);
}

function onMissing(state: JobState, config: MachineConfig, nowMs: number): Transition {
  const since = state.missingSinceMs ?? nowMs;
  if (nowMs - since < config.missingGraceMs) {
    return {
      state: { ...state, missingSinceMs: since },
      effects: [{ type: "timer", atMs: since + config.missingGraceMs }],
    };
  }
  if (state.phase === "cancelling" || state.phase === "draining") {
    return { state: enter(forgetJob(state), "cancelled", nowMs), effects: [] };
  }
  return fail(state, `job ${state.jobId} vanished from squeue and sacct`, config, nowMs);
}

function onWaiting(
  state: JobState,
  info: JobInfo,
  config: MachineConfig,
  nowMs: number,
): Transition {
  const reason = info.reason;
  const pendingSinceMs = state.pendingSinceMs ?? nowMs;
  let waiting: JobState = { ...enter(state, "pending", nowMs), pendingSinceMs };
  delete waiting.pendingReason;
  delete waiting.pendingGroup;
  if (reason !== undefined) {
    waiting = { ...waiting, pendingReason: reason, pendingGroup: config.pendingGroupOf(reason) };
  }
  if (state.phase === "healthy" || state.phase === "running") {
    // Requeued (preempted with requeue): the replica is gone until it runs again.
    const retire: JobEffect[] = state.endpoint
      ? [{ type: "retire", endpoint: state.endpoint }]
      : [];
    const { endpoint: _e, node: _n, startedAtMs: _s, ...rest } = waiting;
    return { state: { ...rest, pendingSinceMs: nowMs }, effects: retire };
  }
  if (reason !== undefined && config.neverClears(reason)) {
    return fallBack(
      waiting,
      `pending for a reason that never clears: ${reason}`,
      config,
      nowMs,
      true,
    );
  }
  if (nowMs - pendingSinceMs >= config.pendingTimeoutMs) {
    return fallBack(
      waiting,
      `pending longer than ${Math.round(config.pendingTimeoutMs / 1000)} s${
        reason ? ` (${reason})` : ""
      }`,
      config,
      nowMs,
      false,
    );
  }
  return {
    state: waiting,
    effects: [{ type: "timer", atMs: pendingSinceMs + config.pendingTimeoutMs }],
  };
}

/** Cancels a job stuck pending and submits it to the next partition; with none left, waits or fails. */
function fallBack(
  state: JobState,
  reason: string,
  config: MachineConfig,
  nowMs: number,
  hopeless: boolean,
): Transition {
  const jobId = state.jobId as string;
  const nextIndex = state.partitionIndex + 1;
  if (nextIndex < config.partitions.length && state.attempts < config.maxAttempts) {
    const to = config.partitions[nextIndex]?.name ?? "?";
    const moved = submit(
      { ...forgetJob(state), lastError: reason, partitionIndex: nextIndex },
      config,
      nowMs,
    );
    moved.effects.unshift(
      { type: "cancel", jobId },
      { type: "log", level: "warn", message: `job ${jobId} ${reason}; trying partition ${to}` },
    );
    return moved;
  }
  if (hopeless) {
    return {
      state: { ...enter(forgetJob(state), "failed", nowMs), lastError: reason },
      effects: [
        { type: "cancel", jobId },
        { type: "log", level: "error", message: `job ${jobId} ${reason}; no partition left` },
      ],
    };
  }
  // No other partition: keep waiting, and say so once.
  if (state.lastError === reason) return { state, effects: [] };
  return {
    state: { ...state, lastError: reason },
    effects: [{
      type: "log",
      level: "warn",
      message: `job ${jobId} ${reason}; no other partition`,
    }],
  };
}

function onRunning(
  state: JobState,
  info: JobInfo,
  config: MachineConfig,
  nowMs: number,
): Transition {
  const startedAtMs = info.startTime?.getTime() ?? state.startedAtMs ?? nowMs;
  const timed: JobState = {
    ...state,
    startedAtMs,
    ...(info.timeLimitSeconds !== undefined ? { timeLimitMs: info.timeLimitSeconds * 1000 } : {}),
  };
  delete timed.pendingReason;
  delete timed.pendingGroup;
  delete timed.pendingSinceMs;
  const node = info.node ?? info.nodes ?? state.node;
  if (state.phase === "submitted" || state.phase === "pending") {
    if (node === undefined) return { state: timed, effects: [] };
    const running: JobState = { ...enter(timed, "running", nowMs), node };
    return {
      state: running,
      effects: [{
        type: "wait_healthy",
        node,
        port: state.port ?? config.basePort + state.replica,
        deadlineMs: nowMs + config.startupTimeoutMs,
      }],
    };
  }
  return checkTimeLimit(timed, config, nowMs);
}

/** When a healthy replica's time limit is within `signalLeadMs`, asks for its replacement once. */
function checkTimeLimit(state: JobState, config: MachineConfig, nowMs: number): Transition {
  if (state.startedAtMs === undefined || state.timeLimitMs === undefined) {
    return { state, effects: [] };
  }
  const replaceAtMs = state.startedAtMs + state.timeLimitMs - config.signalLeadMs;
  if (state.phase !== "healthy" || state.replacing) return { state, effects: [] };
  if (nowMs < replaceAtMs) return { state, effects: [{ type: "timer", atMs: replaceAtMs }] };
  return {
    state: { ...state, replacing: true },
    effects: [
      {
        type: "log",
        level: "info",
        message: `job ${state.jobId} reaches its time limit in ${
          Math.max(0, Math.round((state.startedAtMs + state.timeLimitMs - nowMs) / 1000))
        } s; submitting its replacement`,
      },
      { type: "replace" },
    ],
  };
}

function onHealthy(state: JobState, endpoint: string, nowMs: number): Transition {
  if (state.phase !== "running") return { state, effects: [] };
  if (state.stopping) return { state, effects: [] };
  // lastError stays: the row shows what the last failure was.
  const healthy: JobState = { ...enter(state, "healthy", nowMs), endpoint };
  return { state: healthy, effects: [{ type: "register", endpoint }] };
}

function onPortInUse(state: JobState, config: MachineConfig, nowMs: number): Transition {
  const started = state.phase === "submitted" || state.phase === "pending" ||
    state.phase === "running";
  if (!started || state.jobId === undefined || state.stopping || state.replacing) {
    return { state, effects: [] };
  }
  const jobId = state.jobId;
  const port = (state.port ?? config.basePort + state.replica) + 1;
  const reason = `port ${state.port} was taken on ${state.node ?? "its node"}`;
  if (state.attempts >= config.maxAttempts) {
    return fail(state, reason, config, nowMs, [{ type: "cancel", jobId }]);
  }
  const moved = submit(
    { ...forgetJob(state), lastError: reason, portOffset: state.portOffset + 1 },
    config,
    nowMs,
  );
  moved.effects.unshift(
    { type: "cancel", jobId },
    { type: "log", level: "warn", message: `${reason}; resubmitting on port ${port}` },
  );
  return moved;
}

function onTick(state: JobState, config: MachineConfig, nowMs: number): Transition {
  switch (state.phase) {
    case "backoff":
      if (state.retryAtMs !== undefined && nowMs < state.retryAtMs) {
        return { state, effects: [{ type: "timer", atMs: state.retryAtMs }] };
      }
      return submit(state, config, nowMs);
    case "pending":
      if (
        state.pendingSinceMs !== undefined &&
        nowMs - state.pendingSinceMs >= config.pendingTimeoutMs && state.jobId !== undefined
      ) {
        return fallBack(
          state,
          `pending longer than ${Math.round(config.pendingTimeoutMs / 1000)} s${
            state.pendingReason ? ` (${state.pendingReason})` : ""
          }`,
          config,
          nowMs,
          false,
        );
      }
      return { state, effects: [] };
    case "healthy":
      return checkTimeLimit(state, config, nowMs);
    default:
      return { state, effects: [] };
  }
}

function cancelNow(state: JobState, nowMs: number): Transition {
  if (state.jobId === undefined) {
    return { state: enter(forgetJob(state), "cancelled", nowMs), effects: [] };
  }
  const { endpoint: _endpoint, ...rest } = state;
  return {
    state: enter(rest, "cancelling", nowMs),
    effects: [{ type: "cancel", jobId: state.jobId }],
  };
}

function onStop(state: JobState, config: MachineConfig, nowMs: number): Transition {
  const stopping: JobState = { ...state, stopping: true };
  switch (state.phase) {
    case "planned":
      // A submit in flight is cancelled once its job id is known.
      if (state.submitIssuedAtMs !== undefined) return { state: stopping, effects: [] };
      return { state: enter(forgetJob(stopping), "cancelled", nowMs), effects: [] };
    case "backoff":
      return { state: enter(forgetJob(stopping), "cancelled", nowMs), effects: [] };
    case "healthy": {
      const endpoint = state.endpoint as string;
      return {
        state: enter(stopping, "draining", nowMs),
        effects: [
          { type: "retire", endpoint },
          { type: "drain", endpoint, deadlineMs: nowMs + config.drainDeadlineMs },
        ],
      };
    }
    case "draining":
    case "cancelling":
      return { state: stopping, effects: [] };
    default:
      return cancelNow(stopping, nowMs);
  }
}
