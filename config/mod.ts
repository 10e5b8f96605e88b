/** Turnpike's config: the schema users write, its loader, and the command template of launched replicas. */
export {
  type Config,
  ConfigSchema,
  type HeadersConfig,
  type ModelConfig,
  type ProxyConfig,
  UPSTREAM_TRANSPORTS,
} from "./schema.ts";
export {
  ConfigError,
  KV_FILE_NAME,
  kvPath,
  loadConfig,
  type LoadConfigOptions,
  parseConfig,
  StateDirError,
} from "./loader.ts";
export {
  CommandTemplateError,
  commandTemplateOf,
  DEFAULT_COMMAND_TEMPLATE,
  type Placeholder,
  PLACEHOLDERS,
  type PlaceholderValues,
  renderCommand,
  splitCommand,
} from "./command_template.ts";
export { DEFAULT_LOAD_BOUND, HeadersSchema, ModelSchema, ProxySchema } from "./schema.ts";
export { type SessionsConfig, SessionsSchema } from "./sessions_schema.ts";
export { type RecordsConfig, RecordsSchema } from "./records_schema.ts";
export { type AdmissionConfig, AdmissionSchema } from "./admission_schema.ts";
export {
  type LimitsConfig,
  LimitsSchema,
  type RateLimitConfig,
  RateLimitSchema,
} from "./limits_schema.ts";
export { type AuthConfig, AuthSchema, type JwtConfig } from "./auth_schema.ts";
export { type LoggingConfig, LoggingSchema } from "./logging_schema.ts";
export { type ModelSloConfig, type SloConfig, SloSchema } from "./slo_schema.ts";
export { type Command, numberFlag, parseFlags, UsageError } from "./cli.ts";
export { configCommand } from "./command.ts";
