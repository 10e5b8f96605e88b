/** Byte helpers shared by the request reader and the upstream client. */

/** Joins `parts` into one new array (`size` is their total length when the caller already knows it). */
export function concatBytes(parts: readonly Uint8Array[], size?: number): Uint8Array<ArrayBuffer> {
  let total = size ?? 0;
  if (size === undefined) { for (const part of parts) total += part.byteLength; }
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}
