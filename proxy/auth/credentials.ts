/** Where a request carries its credential: `Authorization: Bearer`, or `x-api-key` as many clients send it. */

/** The request headers that carry a caller's credential: never sent on to a replica once auth is on. */
export const CREDENTIAL_HEADERS: ReadonlySet<string> = new Set(["authorization", "x-api-key"]);

/** The credential a request carries: the Bearer token, else `x-api-key`. */
export function credentialOf(request: Request): string | undefined {
  const authorization = request.headers.get("authorization");
  if (authorization !== null) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    return match ? match[1] : "";
  }
  return request.headers.get("x-api-key")?.trim() || undefined;
}
