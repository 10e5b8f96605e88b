/**
 * The client the gateway forwards to replicas with: one of two transports (the custom HTTP/1.1
 * client or `fetch`) behind one interface, with a cap on the requests in flight per replica.
 */
import { FetchTransport } from "./fetch.ts";
import { Http1Transport } from "./http1.ts";
import { Limiter } from "./limiter.ts";
import type {
  TransportOptions,
  UpstreamRequest,
  UpstreamResponse,
  UpstreamTransport,
  UpstreamTransportName,
} from "./types.ts";

export {
  type UpstreamRequest,
  type UpstreamResponse,
  type UpstreamTransportName,
} from "./types.ts";

/** Options of {@linkcode UpstreamClient}. */
export interface UpstreamClientOptions {
  /** The transport of `http:` replicas. @default "http1" */
  transport?: UpstreamTransportName;
  /** How long a TCP connect may take before the replica counts as unreachable, in ms. @default 3000 */
  connectTimeoutMs?: number;
  /** How long from the request written to the response head, in ms. @default 60000 */
  firstByteTimeoutMs?: number;
  /** How long an idle keep-alive connection is kept, below uvicorn's 5 s, in ms. @default 4000 */
  idleTimeoutMs?: number;
  /** Requests in flight per replica; more wait in line. Idle connections kept are capped alike. @default 512 */
  maxConnectionsPerBackend?: number;
}

/** Sends requests to replicas; every failure before the response head is an UpstreamError. */
export class UpstreamClient {
  #http: UpstreamTransport;
  #https: FetchTransport | undefined;
  #limiter: Limiter;
  #transportOptions: TransportOptions;

  /** @param options the transport, timeouts and pool limits */
  constructor(options: UpstreamClientOptions = {}) {
    const maxConnections = options.maxConnectionsPerBackend ?? 512;
    this.#transportOptions = {
      connectTimeoutMs: options.connectTimeoutMs ?? 3_000,
      firstByteTimeoutMs: options.firstByteTimeoutMs ?? 60_000,
      idleTimeoutMs: options.idleTimeoutMs ?? 4_000,
      maxIdlePerOrigin: maxConnections,
    };
    this.#http = options.transport === "fetch"
      ? new FetchTransport(this.#transportOptions)
      : new Http1Transport(this.#transportOptions);
    this.#limiter = new Limiter(maxConnections);
  }

  /** Requests to `baseUrl` in flight and waiting for a slot. */
  usage(baseUrl: string): { active: number; waiting: number } {
    return this.#limiter.usage(baseUrl);
  }

  /**
   * Sends `request` once, never resending what the replica may have started, and resolves once
   * the status line and headers have arrived. Rejects with an UpstreamError (whose `unprocessed`
   * says whether another replica may be tried) or, once the signal aborted, an AbortError.
   */
  async request(request: UpstreamRequest): Promise<UpstreamResponse> {
    const key = request.baseUrl;
    await this.#limiter.acquire(key, request.signal);
    let response: UpstreamResponse;
    try {
      response = await this.#transport(key).request(request);
    } catch (error) {
      this.#limiter.release(key);
      throw error;
    }
    return holdingSlot(response, () => this.#limiter.release(key));
  }

  /** Closes every idle connection; requests in flight finish on theirs. */
  close(): void {
    this.#http.close();
    this.#https?.close();
  }

  #transport(baseUrl: string): UpstreamTransport {
    if (baseUrl.startsWith("http://")) return this.#http;
    return this.#https ??= new FetchTransport(this.#transportOptions);
  }
}

/** `response` holding its replica's slot until its body has ended, failed or been cancelled. */
function holdingSlot(response: UpstreamResponse, release: () => void): UpstreamResponse {
  let held = true;
  const free = () => {
    if (!held) return;
    held = false;
    release();
  };
  return {
    status: response.status,
    headers: response.headers,
    contentType: response.contentType,
    contentLength: response.contentLength,
    async read() {
      try {
        const piece = await response.read();
        if (piece === null) free();
        return piece;
      } catch (error) {
        free();
        throw error;
      }
    },
    async bytes() {
      try {
        return await response.bytes();
      } finally {
        free();
      }
    },
    cancel() {
      free();
      response.cancel();
    },
  };
}
