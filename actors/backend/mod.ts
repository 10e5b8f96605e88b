/** BackendActor (one per replica: health, circuit, EWMAs, vLLM metrics): what other folders may use of it. */
export {
  BACKEND_KIND,
  type BackendActorOptions,
  type BackendActorState,
  backendBehavior,
  type BackendMessage,
  type BackendReportMessage,
} from "./backend_actor.ts";
export {
  backendProbed,
  backendProbeTimedOut,
  type BackendReport,
  backendReport,
  type BackendSource,
  type BackendState,
  type BackendStateOptions,
  newBackendState,
  replicaBusy,
  type RequestOutcome,
} from "./backend_state.ts";
export type { Circuit, CircuitOptions, CircuitPhase } from "./circuit.ts";
export type { Ewma, EwmaOptions } from "./ewma.ts";
export type { ScrapedLoad } from "./scraped_load.ts";
export type { VllmMetrics } from "./vllm_metrics.ts";
