/** The zod schema of a request record, for records read back from KV (written by another process, or version). */
import { z } from "zod";
import type { RequestRecord } from "./records.ts";

const optionalString = z.string().or(z.undefined());
const optionalNumber = z.number().or(z.undefined());

/** A request record, parsed at the edge. */
export const RequestRecordSchema = z.object({
  requestId: z.string(),
  model: z.string(),
  endpoint: z.string(),
  stream: z.boolean(),
  status: z.number().int(),
  backendId: optionalString,
  attempts: z.number().int(),
  sessionId: optionalString,
  taskId: optionalString,
  clientId: optionalString,
  clientPreMs: optionalNumber,
  clientPostMs: optionalNumber,
  startedAtMs: z.number(),
  gatewayMs: z.number(),
  upstreamTtftMs: optionalNumber,
  upstreamMs: optionalNumber,
  totalMs: z.number(),
  promptTokens: optionalNumber,
  completionTokens: optionalNumber,
  usageSource: z.enum(["reported", "counted", "none"]),
  error: optionalString,
  errorCode: z.string().optional(),
  queueMs: z.number().optional(),
  priority: z.string().optional(),
  upstreamHeadMs: z.number().optional(),
  replicaWaiting: z.number().optional(),
  replicaRunning: z.number().optional(),
  replicaKvUsage: z.number().optional(),
  replicaQueueMs: z.number().optional(),
  replicaPreemptions: z.number().optional(),
  replicaPrefixHitRate: z.number().optional(),
  routeStrategy: z.string().optional(),
  routeReason: z.string().optional(),
  routerPrefixShare: z.number().optional(),
  routeArm: z.enum(["canary", "incumbent"]).optional(),
  cachedTokens: z.number().optional(),
  predictedCachedTokens: z.number().optional(),
}) satisfies z.ZodType<RequestRecord>;
