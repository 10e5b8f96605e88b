/** BackendActor (one per replica: health, circuit, EWMAs, vLLM metrics) and ReplicaActor (a launched replica's process). */
export * from "./backend_actor.ts";
export * from "./backend_state.ts";
export * from "./circuit.ts";
export * from "./ewma.ts";
export * from "./vllm_metrics.ts";
