/** `auth:` in config: whether callers must prove who they are, the admin key, and how JWTs are checked. */
import { z } from "zod";
import { PRIORITY_CLASSES } from "../proxy/auth/principal.ts";

const seconds = z.number().positive();
const claimName = z.string().min(1);

/**
 * The JWT signing algorithms a token may use. Only asymmetric ones: the gateway holds public keys,
 * and an HMAC algorithm checked with a public key is the classic key-confusion attack.
 */
export const JWT_ALGORITHMS = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
] as const;
/** One of {@linkcode JWT_ALGORITHMS}. */
export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number];

/** `auth.jwt.claims:` the claim names a token's grants are read from. */
export const JwtClaimsSchema = z.strictObject({
  /** The client id limits and fairness are kept by. @default "sub" */
  client_id: claimName.default("sub"),
  /** The models it may call: a list, `"*"`, or a space-separated string; absent is every model. */
  models: claimName.default("models"),
  /** Its priority class: `high`, `medium` or `low`. */
  priority: claimName.default("priority"),
  /** Whether a request may choose its class by the priority header (a boolean). */
  priority_header: claimName.default("priority_header"),
  /** `{requests_per_minute, tokens_per_minute, max_concurrent}`, each optional. */
  limits: claimName.default("limits"),
});

/** `auth.jwt:` bearer JWTs, checked against a PEM public key or a JWKS URL. */
export const JwtSchema = z.strictObject({
  /** A PEM public key (SPKI, `-----BEGIN PUBLIC KEY-----`) the tokens are signed with. */
  public_key_file: z.string().min(1).optional(),
  /** A JWKS URL the signing keys are fetched from; a token with an unknown `kid` fetches it again. */
  jwks_url: z.url({ protocol: /^https?$/ }).optional(),
  /** Seconds after a JWKS fetch before another may be made (an unknown `kid` waits it out). @default 30 */
  jwks_cooldown: z.number().min(0).default(30),
  /** Seconds a fetched JWKS is used before it is fetched again. @default 600 */
  jwks_cache_max_age: seconds.default(600),
  /** The `iss` a token must carry; any when absent. */
  issuer: z.string().min(1).optional(),
  /** The `aud` a token must carry (one of them, when a list); any when absent. */
  audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
  /** The signing algorithms accepted. @default ["RS256", "ES256"] */
  algorithms: z.array(z.enum(JWT_ALGORITHMS)).min(1).default(["RS256", "ES256"]),
  /** Seconds of clock skew allowed on `exp` and `nbf`. @default 30 */
  clock_tolerance: z.number().min(0).default(30),
  claims: JwtClaimsSchema.default(JwtClaimsSchema.parse({})),
}).superRefine((jwt, ctx) => {
  const given = [jwt.public_key_file, jwt.jwks_url].filter((v) => v !== undefined).length;
  if (given !== 1) {
    ctx.addIssue({
      code: "custom",
      path: [],
      message: given === 0
        ? "set public_key_file or jwks_url to say where the signing keys are"
        : "set public_key_file or jwks_url, not both",
    });
  }
});

/** `auth:`. */
export const AuthSchema = z.strictObject({
  /** Whether every route but the public ones needs an API key, a JWT or the admin key. @default false */
  enabled: z.boolean().default(false),
  /** The admin key, for the admin routes; prefer `admin_key_env` to keep it out of the file. */
  admin_key: z.string().refine(
    (key) => key.length >= 16,
    "must be at least 16 characters; a long random string (openssl rand -base64 32)",
  ).optional(),
  /** The environment variable holding the admin key; when set it wins over `admin_key`. */
  admin_key_env: z.string().regex(
    /^[A-Za-z_][A-Za-z0-9_]*$/,
    "must be an environment variable name",
  )
    .optional(),
  /** The class of a caller whose key or token sets none; the admission default when absent. */
  default_priority: z.enum(PRIORITY_CLASSES).optional(),
  /** Whether a JWT without the `priority_header` claim may choose its class by the priority header. @default false */
  priority_header: z.boolean().default(false),
  /**
   * Seconds between checks of the API keys in KV: a key revoked or created by another gateway
   * process or by `deno task keys` takes effect here within it. @default 2
   */
  key_refresh_interval: seconds.default(2),
  jwt: JwtSchema.optional(),
});

/** The `auth:` settings. */
export type AuthConfig = z.infer<typeof AuthSchema>;
/** The `auth.jwt:` settings. */
export type JwtConfig = z.infer<typeof JwtSchema>;
