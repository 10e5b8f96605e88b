/** Bounds on a request's head that Deno.serve leaves to the application: header count and bytes. */

/** Options of {@linkcode headProblem}. */
export interface HeadLimits {
  /** Headers a request may carry. */
  maxHeaderCount: number;
  /** Bytes of header names and values (each pair counted with its `: ` and line end). */
  maxHeaderBytes: number;
}

/** Why a head is refused with 431, or undefined when it is within `limits`. */
export function headProblem(headers: Headers, limits: HeadLimits): string | undefined {
  let count = 0;
  let bytes = 0;
  for (const [name, value] of headers) {
    count++;
    // Header values are Latin-1 on the wire: one byte per character.
    bytes += name.length + value.length + 4;
  }
  if (count > limits.maxHeaderCount) {
    return `The request carries ${count} headers, more than the ${limits.maxHeaderCount} allowed; send fewer`;
  }
  if (bytes > limits.maxHeaderBytes) {
    return `The request's headers are ${bytes} bytes, more than the ${limits.maxHeaderBytes} allowed; send shorter ones`;
  }
  return undefined;
}
