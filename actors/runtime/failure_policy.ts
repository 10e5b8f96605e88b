/**
 * What a failed turn means for its actor: OTP's let-it-crash, except for poison messages.
 *
 * A tell, an ask or a signal whose handler throws crashes the actor: its supervisor gets a
 * ChildFailed signal, restarts it with backoff, and gives up to its own parent after too many
 * restarts.
 *
 * A durable delivery whose handler throws does not crash the actor. KV redelivers it, so a
 * message that always fails would crash its actor once per delivery, spend its supervisor's
 * restart intensity on one bad message, and could escalate to the root and end the gateway.
 * Instead the delivery is handed back to the transport, the failure goes to `onError`, and the
 * actor carries on from its last committed state (durable handlers return a new state and never
 * mutate the one they get, so nothing of the failed turn survives). The message's retries
 * (`retryScheduleMs`) are its budget; when they run out Deno KV writes the dead-letter record.
 * No restart is counted, so a poison message never reaches a supervisor, let alone the root.
 */
import type { Address } from "./address.ts";
import { AskEnvelope, DurableDelivery } from "./envelopes.ts";
import { ActorFailedError } from "./errors.ts";

/** How an actor goes on after a turn threw. */
export type AfterFailure =
  /** It crashes: its supervisor gets ChildFailed and restarts it or gives up. */
  | { kind: "crash" }
  /** It carries on: these durable deliveries went back to the transport for their retries. */
  | { kind: "carry_on"; messageIds: string[] };

/**
 * Settles what a failed turn was handling (an ask fails with ActorFailedError, durable
 * deliveries are handed back for a retry) and says whether the actor crashes.
 * @param failing the durable deliveries the turn had taken and not settled
 */
export function settleFailedTurn(
  addr: Address,
  item: unknown,
  error: unknown,
  failing: DurableDelivery[] | undefined,
): AfterFailure {
  if (item instanceof DurableDelivery) {
    const deliveries = failing ?? [item];
    for (const d of deliveries) d.finish(new ActorFailedError(addr, error));
    return { kind: "carry_on", messageIds: deliveries.map((d) => d.id) };
  }
  if (item instanceof AskEnvelope) item.settle(new ActorFailedError(addr, error));
  return { kind: "crash" };
}
