/** HTTP helpers of the sessions benchmark: creating a session as a well-behaved client does. */

/** Most tries of one create before the benchmark gives up. */
const CREATE_TRIES = 50;

/** Retries of creates answered 503 `session_store_busy`, over the whole process. */
export const createRetries = { count: 0 };

/**
 * `POST /v1/sessions` with `body`; returns the new session's id. A 503 (the store's optimistic
 * commit lost a race with other creates) is retried after a short random pause, as its
 * `retry-after` invites; any other failure throws.
 */
export async function createSession(base: string, body: unknown): Promise<string> {
  for (let attempt = 1;; attempt++) {
    const res = await fetch(`${base}/v1/sessions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status === 201) return (JSON.parse(text) as { id: string }).id;
    if (res.status !== 503 || attempt >= CREATE_TRIES) {
      throw new Error(`Cannot create a session: HTTP ${res.status} ${text.slice(0, 300)}`);
    }
    createRetries.count++;
    await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20));
  }
}
