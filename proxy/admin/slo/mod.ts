/** SLOs: burn of each model's objectives from request records, evaluated continuously in process. */
export {
  type ObjectiveBurn,
  objectiveBurns,
  type SloSample,
  sloSample,
  worstBurn,
} from "./burn.ts";
export {
  type EvaluationListener,
  MAX_SAMPLES_PER_MODEL,
  SloTracker,
  type SloTrackerOptions,
} from "./slo_tracker.ts";
