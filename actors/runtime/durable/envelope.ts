/** The record that travels through the durable transport, parsed with zod on arrival. */
import { z } from "zod";

/** A durable message on the wire. */
export const DurableEnvelopeSchema = z.object({
  v: z.literal(1),
  id: z.string().min(1),
  to: z.string().regex(/^[^/]+\/.*$/),
  msg: z.unknown(),
  sentAtMs: z.number(),
  dueAtMs: z.number(),
});

/** A durable message on the wire. */
export type DurableEnvelope = z.infer<typeof DurableEnvelopeSchema>;

/** Largest payload KV accepts, with room for the serializer's framing. */
export const MAX_PAYLOAD_BYTES = 64 * 1024 - 512;

/** Builds an envelope and checks that it fits the KV payload limit. */
export function makeEnvelope(
  to: string,
  msg: unknown,
  options: { id: string; delayMs?: number | undefined },
): DurableEnvelope {
  const now = Date.now();
  const envelope: DurableEnvelope = {
    v: 1,
    id: options.id,
    to,
    msg,
    sentAtMs: now,
    dueAtMs: now + (options.delayMs ?? 0),
  };
  const size = new TextEncoder().encode(JSON.stringify(envelope)).length;
  if (size > MAX_PAYLOAD_BYTES) {
    throw new RangeError(
      `Durable message to ${to} is ${size} bytes; the KV limit is 64 KiB: send a key to the data instead`,
    );
  }
  return envelope;
}
