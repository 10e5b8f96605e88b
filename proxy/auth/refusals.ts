/** The auth layer's OpenAI-shaped refusals: 401 with `WWW-Authenticate`, 403 for the admin routes and for a model. */
import { errorResponse } from "../errors.ts";
import type { AuthOutcome } from "./authenticator.ts";

/** The realm every `WWW-Authenticate` challenge names. */
export const REALM = "turnpike";

/** The answer to a request whose credentials `outcome` refused: 401, or 503 when they cannot be checked now. */
export function authRefusal(outcome: Extract<AuthOutcome, { ok: false }>): Response {
  if (outcome.reason === "unavailable") {
    return errorResponse(503, outcome.message, {
      code: "auth_unavailable",
      headers: { "retry-after": "5" },
    });
  }
  const challenge = outcome.reason === "missing"
    ? `Bearer realm="${REALM}"`
    : `Bearer realm="${REALM}", error="invalid_token"`;
  return errorResponse(401, outcome.message, {
    code: "invalid_api_key",
    headers: { "www-authenticate": challenge },
  });
}

/** The 403 to a caller that is not the admin on an admin route. */
export function adminRequired(method: string, path: string): Response {
  return errorResponse(
    403,
    `${method} ${path} needs the admin key (auth.admin_key or auth.admin_key_env); this key is not it`,
    { code: "admin_key_required" },
  );
}

/** The message of a 403 `model_not_allowed`. */
export function modelNotAllowedMessage(model: string): string {
  return `This key may not call the model "${model}"; GET /v1/models lists the ones it may`;
}

/** The 403 `model_not_allowed` answer to a request for `model`. */
export function modelNotAllowed(model: string): Response {
  return errorResponse(403, modelNotAllowedMessage(model), {
    param: "model",
    code: "model_not_allowed",
  });
}
