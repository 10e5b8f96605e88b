/** BackendActor (one per replica: health, circuit, EWMAs, vLLM metrics) and ReplicaActor (a launched replica's process). */
export {
  BACKEND_KIND,
  type BackendActorOptions,
  type BackendActorState,
  backendBehavior,
  type BackendMessage,
  type BackendReportMessage,
} from "./backend_actor.ts";
export {
  backendAcquired,
  backendProbed,
  backendReleased,
  type BackendReport,
  backendReport,
  backendScraped,
  type BackendSource,
  type BackendState,
  type BackendStateOptions,
  backendTick,
  newBackendState,
  type RequestOutcome,
} from "./backend_state.ts";
export {
  type Circuit,
  circuitAllows,
  circuitFailed,
  type CircuitOptions,
  type CircuitPhase,
  circuitSucceeded,
  circuitTick,
  closedCircuit,
} from "./circuit.ts";
export {
  DEFAULT_EWMA_OPTIONS,
  emptyEwma,
  type Ewma,
  ewmaAdd,
  type EwmaOptions,
  ewmaRead,
} from "./ewma.ts";
export { parsePrometheus, parseVllmMetrics, type VllmMetrics } from "./vllm_metrics.ts";
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
