/** The client the gateway forwards to replicas with. */
export {
  UpstreamClient,
  type UpstreamClientOptions,
  type UpstreamRequest,
  type UpstreamResponse,
  type UpstreamTransportName,
} from "./client.ts";
export { UpstreamError, type UpstreamFailure } from "./errors.ts";
export { concatBytes } from "./bytes.ts";
