/** Splits one request record's wall time into the parts of a turn: the agent's own time, the gateway, the way to the replica, its queue, prefill and decode. */
import type { RequestRecord } from "../../records.ts";
import type { TurnComponent } from "../api_types.ts";

/** One turn's time per component, in ms; a component left out was not measured for it. */
export type TurnBreakdown = Partial<Record<TurnComponent, number>>;

/**
 * The breakdown of `record`. The agent's pre and post time come from its timing headers; the
 * gateway queue is admission's wait, the gateway the rest of the gateway's own time. Upstream,
 * for a stream: the network is the time to the answer's head (vLLM sends it before it queues
 * the request), the replica's queue is its recent mean queue time from its scrape (at most what
 * the first token left), prefill the rest up to the first token, decode the rest up to the last
 * byte. A whole (non-streamed) answer shows no first token: its time after the replica's queue
 * counts as decode, and no network or prefill is given.
 */
export function turnBreakdown(record: RequestRecord): TurnBreakdown {
  const out: TurnBreakdown = {};
  if (record.clientPreMs !== undefined && record.clientPreMs >= 0) {
    out.agent_pre = record.clientPreMs;
  }
  if (record.clientPostMs !== undefined && record.clientPostMs >= 0) {
    out.agent_post = record.clientPostMs;
  }
  const queue = Math.max(0, record.queueMs ?? 0);
  if (record.queueMs !== undefined) out.gateway_queue = queue;
  out.gateway = Math.max(0, record.gatewayMs - queue);
  const upstream = record.upstreamMs;
  if (upstream === undefined) return out;
  const ttft = record.upstreamTtftMs;
  if (ttft !== undefined) {
    const network = Math.min(Math.max(0, record.upstreamHeadMs ?? 0), ttft);
    if (record.upstreamHeadMs !== undefined) out.network = network;
    const rest = ttft - network;
    const replicaQueue = Math.min(Math.max(0, record.replicaQueueMs ?? 0), rest);
    if (record.replicaQueueMs !== undefined) out.replica_queue = replicaQueue;
    out.prefill = rest - replicaQueue;
    out.decode = Math.max(0, upstream - ttft);
    return out;
  }
  const replicaQueue = Math.min(Math.max(0, record.replicaQueueMs ?? 0), upstream);
  if (record.replicaQueueMs !== undefined) out.replica_queue = replicaQueue;
  out.decode = upstream - replicaQueue;
  return out;
}

/** The summed time of a breakdown, in ms: the turn's wall time as far as it was measured. */
export function wallMs(breakdown: TurnBreakdown): number {
  let total = 0;
  for (const ms of Object.values(breakdown)) total += ms ?? 0;
  return total;
}
