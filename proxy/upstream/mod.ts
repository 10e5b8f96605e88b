/** The HTTP/1.1 client the gateway forwards to replicas with. */
export {
  UpstreamClient,
  type UpstreamClientOptions,
  type UpstreamRequest,
  type UpstreamResponse,
} from "./client.ts";
export { UpstreamError, type UpstreamFailure } from "./errors.ts";
