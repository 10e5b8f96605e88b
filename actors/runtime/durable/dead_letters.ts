/** Reads back the dead-letter records Deno KV wrote for durable messages whose retries ran out. */
import { type Address, parseAddress } from "../address.ts";
import type { DeadLetter } from "../system_options.ts";
import { DurableEnvelopeSchema } from "./envelope.ts";
import { DEAD_LETTER_PREFIX, deadLetterKey } from "./keys.ts";

/** The dead-letter records in `kv`, of one actor when `to` is given. */
export async function listDeadLetters(kv: Deno.Kv, to?: Address): Promise<DeadLetter[]> {
  let prefix: Deno.KvKey = DEAD_LETTER_PREFIX;
  if (to !== undefined) {
    const { kind, id } = parseAddress(to);
    prefix = deadLetterKey(kind, id, "").slice(0, 3);
  }
  const out: DeadLetter[] = [];
  for await (const entry of kv.list({ prefix })) {
    const parsed = DurableEnvelopeSchema.safeParse(entry.value);
    if (parsed.success) {
      const { to: addr, id, msg, sentAtMs } = parsed.data;
      out.push({ to: addr, id, msg, sentAtMs });
    }
  }
  return out;
}
