/** Helpers of the routing tests through the gateway: which replica answered a request. */
import type { TestRig } from "../gateway/testing.ts";

/**
 * Sends one non-streamed chat completion through the rig's openai client and answers the replica
 * that served it (the gateway's `x-turnpike-backend` header), `"none"` when the header is absent.
 */
export async function backendOf(
  rig: TestRig,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<string> {
  const { response } = await rig.client.chat.completions
    .create(
      body as unknown as Parameters<typeof rig.client.chat.completions.create>[0] & {
        stream?: false;
      },
      { headers },
    )
    .withResponse();
  return response.headers.get("x-turnpike-backend") ?? "none";
}
