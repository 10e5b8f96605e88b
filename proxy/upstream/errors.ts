/** Why an upstream request failed, and whether resending it elsewhere is safe. */

/** The ways an upstream request fails before its response head arrives. */
export type UpstreamFailure =
  /** The replica refused the connection: nothing was sent. */
  | "connect_refused"
  /** The connection was not established within the connect timeout: nothing was sent. */
  | "connect_timeout"
  /** Any other failure to connect (unreachable, DNS): nothing was sent. */
  | "connect_failed"
  /** The connection closed before any byte of the request was written. */
  | "closed_before_write"
  /** The request was (partly) written, then the connection closed or reset with no answer. */
  | "closed_after_write"
  /** No response head arrived within the first-byte timeout. */
  | "first_byte_timeout"
  /** The replica's answer breaks HTTP/1.1 framing, or cannot be relayed. */
  | "protocol";

/** A failed upstream request. `unprocessed` is true only when the replica cannot have seen it. */
export class UpstreamError extends Error {
  override readonly name = "UpstreamError";

  /**
   * @param kind what failed
   * @param message a sentence for logs and error answers
   * @param options the underlying error
   */
  constructor(
    readonly kind: UpstreamFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** True when the replica cannot have started the request, so another replica may be tried. */
  get unprocessed(): boolean {
    return this.kind === "connect_refused" || this.kind === "connect_timeout" ||
      this.kind === "connect_failed" || this.kind === "closed_before_write";
  }
}
