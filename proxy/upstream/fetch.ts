/** The upstream interface over `fetch`, for `https:` replicas (TLS is left to Deno). */
import type { UpstreamRequest, UpstreamResponse } from "./client.ts";
import { concatBytes } from "../bytes.ts";
import { HOP_BY_HOP_RESPONSE } from "./head.ts";

/** Sends `request` with `fetch`; resolves once the status and headers have arrived. */
export async function fetchUpstream(request: UpstreamRequest): Promise<UpstreamResponse> {
  const res = await fetch(request.baseUrl.replace(/\/+$/, "") + request.path, {
    method: request.method,
    headers: [...request.headers],
    body: request.body as Uint8Array<ArrayBuffer>,
    signal: request.signal,
  });
  const headers: [string, string][] = [];
  for (const pair of res.headers) {
    // fetch has already decompressed the body, so its encoding no longer applies.
    if (!HOP_BY_HOP_RESPONSE.has(pair[0]) && pair[0] !== "content-encoding") headers.push(pair);
  }
  // One reader serves both read() and bytes(): taking it locks the body, so arrayBuffer() is out.
  const reader = res.body?.getReader();
  const length = res.headers.get("content-length");
  async function read(): Promise<Uint8Array | null> {
    if (!reader) return null;
    const { done, value } = await reader.read();
    return done ? null : value;
  }
  return {
    status: res.status,
    headers,
    contentType: res.headers.get("content-type") ?? undefined,
    contentLength: length === null || res.headers.has("content-encoding")
      ? undefined
      : Number(length),
    read,
    async bytes() {
      const parts: Uint8Array[] = [];
      for (let piece = await read(); piece !== null; piece = await read()) parts.push(piece);
      return concatBytes(parts);
    },
    cancel() {
      reader?.cancel().catch(() => {});
    },
  };
}
