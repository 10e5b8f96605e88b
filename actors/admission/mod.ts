/** Admission control (the gateway queue per model): in-flight caps (adaptive per replica), priority classes with weighted fairness, least attained service, early shedding. */
export { Admission, type AdmissionOptions } from "./admission.ts";
export { AttainedService, type AttainedServiceOptions } from "./attained.ts";
export {
  type CapacityOptions,
  DEFAULT_MAX_NUM_SEQS,
  maxTokensOf,
  type ReplicaCapacity,
  replicaCapacity,
  requestTokens,
} from "./capacity.ts";
export { type ClassWeights, FairQueue, type QueueEntry } from "./fair_queue.ts";
export {
  type AdaptiveOptions,
  AdmissionGate,
  type AdmissionGateOptions,
  type AdmissionStats,
  type Refusal,
  type WaitRequest,
  type WaitResult,
} from "./gate.ts";
export {
  ConcurrencyLimiter,
  type ConcurrencyLimiterOptions,
  DECODE_WORK_TOKENS,
  FIXED_WORK_TOKENS,
  type LatencySample,
  workTokens,
} from "./limiter.ts";
export { AdmissionTicket, type AdmissionTicketOptions } from "./ticket.ts";
export { withVllmPriority } from "./vllm_priority.ts";
