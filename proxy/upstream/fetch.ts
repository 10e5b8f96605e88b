/**
 * The upstream transport over Deno's `fetch` on a tuned `Deno.createHttpClient` (HTTP/1.1 only,
 * bounded idle pool); also what `https:` replicas always use, TLS being left to Deno.
 */
import { concatBytes } from "./bytes.ts";
import { abortError } from "./connection.ts";
import { UpstreamError, type UpstreamFailure } from "./errors.ts";
import { endToEndHeaders } from "./head.ts";
import type {
  TransportOptions,
  UpstreamRequest,
  UpstreamResponse,
  UpstreamTransport,
} from "./types.ts";

/**
 * `fetch` as a transport. It cannot tell a connect from a wait for the head, so one timer covers
 * both (connect plus first-byte timeout) and a timeout counts as `first_byte_timeout`, which is
 * never resent; refused and failed connects are told apart by hyper's error text.
 */
export class FetchTransport implements UpstreamTransport {
  #client: Deno.HttpClient;
  #options: TransportOptions;

  /** @param options timeouts and pool limits */
  constructor(options: TransportOptions) {
    this.#options = options;
    this.#client = Deno.createHttpClient({
      http2: false,
      poolMaxIdlePerHost: options.maxIdlePerOrigin,
      poolIdleTimeout: options.idleTimeoutMs,
    });
  }

  /** Sends `request` with `fetch`; resolves once the status and headers have arrived. */
  async request(request: UpstreamRequest): Promise<UpstreamResponse> {
    const { signal } = request;
    if (signal.aborted) throw abortError(signal);
    const controller = new AbortController();
    const onAbort = () => controller.abort(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    // fetch cannot time its connect alone: with no first-byte timeout, the caller's deadline
    // bounds both.
    const firstByteMs = request.firstByteTimeoutMs === undefined
      ? this.#options.firstByteTimeoutMs
      : request.firstByteTimeoutMs;
    const waitMs = firstByteMs === null ? null : this.#options.connectTimeoutMs + firstByteMs;
    let timedOut = false;
    const timer = waitMs === null ? undefined : setTimeout(() => {
      timedOut = true;
      controller.abort("first byte timeout");
    }, waitMs);
    let res: Response;
    try {
      res = await fetch(request.baseUrl.replace(/\/+$/, "") + request.path, {
        method: request.method,
        headers: [...request.headers],
        body: request.method === "GET" || request.method === "HEAD"
          ? null
          : request.body as Uint8Array<ArrayBuffer>,
        signal: controller.signal,
        client: this.#client,
      });
    } catch (error) {
      signal.removeEventListener("abort", onAbort);
      if (signal.aborted) throw abortError(signal);
      if (timedOut) {
        throw new UpstreamError(
          "first_byte_timeout",
          `Upstream sent no response head within ${waitMs} ms (connect and first byte)`,
        );
      }
      const cause = error instanceof Error && error.cause !== undefined ? error.cause : error;
      throw new UpstreamError(failureOf(error), `Upstream request failed: ${cause}`, { cause });
    } finally {
      clearTimeout(timer);
    }
    return fetchedResponse(res, {
      signal,
      done: () => signal.removeEventListener("abort", onAbort),
    });
  }

  /** Closes the pool's connections. */
  close(): void {
    this.#client.close();
  }
}

/** Which failure a rejected `fetch` was, from hyper's message in its cause (the only thing it exposes). */
function failureOf(error: unknown): UpstreamFailure {
  const text = `${error} ${error instanceof Error ? error.cause : ""}`;
  if (/Connection refused/i.test(text)) return "connect_refused";
  if (/\(Connect\)|tcp connect error|dns error/i.test(text)) return "connect_failed";
  if (/invalid|parse|header|message head/i.test(text)) return "protocol";
  return "closed_after_write";
}

/** `res` under the upstream interface; `done` runs once its body has ended or was cancelled. */
function fetchedResponse(
  res: Response,
  { signal, done }: { signal: AbortSignal; done: () => void },
): UpstreamResponse {
  // The reader is taken on the first read() only: a whole body read with arrayBuffer() costs
  // half as much as a read loop.
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  let ended = res.body === null;
  if (ended) done();
  const end = () => {
    if (ended) return;
    ended = true;
    done();
  };
  const failed = (error: unknown) => {
    end();
    if (signal.aborted) return abortError(signal);
    return new UpstreamError("closed_after_write", `Upstream body failed: ${error}`, {
      cause: error,
    });
  };
  async function read(): Promise<Uint8Array | null> {
    if (ended) return null;
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await (reader ??= res.body!.getReader()).read();
    } catch (error) {
      throw failed(error);
    }
    if (chunk.done) end();
    return chunk.done ? null : chunk.value;
  }
  const length = res.headers.get("content-length");
  // fetch has already decompressed the body, so its encoding no longer applies.
  const headers = endToEndHeaders(res.headers).filter(([name]) => name !== "content-encoding");
  return {
    status: res.status,
    headers,
    contentType: res.headers.get("content-type") ?? undefined,
    contentLength: length === null || res.headers.has("content-encoding") ||
        res.headers.has("transfer-encoding")
      ? undefined
      : Number(length),
    read,
    async bytes() {
      if (reader || ended) {
        const parts: Uint8Array[] = [];
        for (let piece = await read(); piece !== null; piece = await read()) parts.push(piece);
        return concatBytes(parts);
      }
      try {
        const whole = new Uint8Array(await res.arrayBuffer());
        end();
        return whole;
      } catch (error) {
        throw failed(error);
      }
    },
    cancel() {
      if (ended) return;
      end();
      (reader ?? res.body)?.cancel().catch(() => {});
    },
  };
}
