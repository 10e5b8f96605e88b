/** Talking to machines: the local process launcher and the ReplicaActor that keeps a launched replica running. */
export {
  launchReplica,
  type LaunchReplicaOptions,
  replicaArgv,
  type ReplicaProcess,
  ReplicaStartError,
  type ReplicaStartFailure,
  type StopReplicaOptions,
} from "./local_launcher.ts";
export { freePort, saysAddressInUse } from "./ports.ts";
export {
  REPLICA_KIND,
  REPLICA_SUPERVISOR_KIND,
  type ReplicaActorOptions,
  type ReplicaActorState,
  replicaBehavior,
  type ReplicaMessage,
  type ReplicaStatus,
  replicaSupervisorBehavior,
  type ReplicaSupervisorMessage,
} from "./replica_actor.ts";
