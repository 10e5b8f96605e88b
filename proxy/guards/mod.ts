/** Guards against hostile requests: head limits and body reads under a size cap and deadline. */
export { type GuardsConfig, MAX_ADMIN_ID_CHARS, requestGuards } from "./middleware.ts";
export {
  type BodyBytes,
  type BodyJson,
  type BodyLimits,
  bodyLimitsOf,
  type BodyRefusal,
  DEFAULT_BODY_LIMITS,
  MAX_JSON_DEPTH,
  parseJsonBytes,
  readBodyBytes,
  readJsonBody,
  setBodyLimits,
} from "./body.ts";
export { type HeadLimits, headProblem } from "./head.ts";
