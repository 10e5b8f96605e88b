/** Authentication: API keys in KV, JWTs, the admin key, the middleware and the key admin API. */
export {
  allowsModel,
  type Principal,
  type PrincipalLimits,
  principalOf,
  PRIORITY_CLASSES,
  type PriorityClass,
  setPrincipal,
} from "./principal.ts";
export {
  type ApiKeyRecord,
  type ApiKeyView,
  type CreatedKey,
  KEY_PREFIX,
  type KeyLimits,
  KeyStore,
  keyView,
  type NewKey,
  parseKey,
} from "./api_keys.ts";
export { KeyCache, type KeyCacheOptions } from "./key_cache.ts";
export { AuthSetupError, JwtVerifier, type JwtVerifierOptions, type TokenCheck } from "./jwt.ts";
export {
  adminKeyOf,
  Authenticator,
  type AuthenticatorOptions,
  type AuthOutcome,
} from "./authenticator.ts";
export { CREDENTIAL_HEADERS, credentialOf } from "./credentials.ts";
export { authMiddleware, isAdminRoute, PUBLIC_PATHS } from "./middleware.ts";
export { CreateKeyBody, keyRoutes } from "./routes.ts";
export { modelNotAllowed, modelNotAllowedMessage } from "./refusals.ts";
export {
  authSummary,
  type Exposure,
  exposureOf,
  type ExposureOptions,
  isLoopbackHost,
} from "./exposure.ts";
export { keysCommand } from "./keys_command.ts";
