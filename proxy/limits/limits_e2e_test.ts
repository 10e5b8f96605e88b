/**
 * The rate limits end to end: the OpenAI SDK (no retries) against a gateway over simulated
 * replicas, and two gateways on one KV file sharing one limit.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import OpenAI, { APIError } from "openai";
import { startGateway } from "../../gateway/gateway.ts";
import { chat, MODEL, startRig, type TestRig, waitFor } from "../../gateway/testing.ts";

/** A client of `rig`'s gateway (or of `url`) that names itself by the client header. */
function clientOf(rig: TestRig, clientId: string, url = rig.gateway.url): OpenAI {
  return new OpenAI({
    baseURL: `${url}/v1`,
    apiKey: "test",
    maxRetries: 0,
    timeout: 20_000,
    defaultHeaders: { "X-Client-ID": clientId },
  });
}

/** The 429 a call fails with. */
async function refusal(call: Promise<unknown>): Promise<APIError> {
  const error = await call.then(() => undefined, (e) => e);
  assert(error instanceof APIError, `expected a 429, got ${error ?? "an answer"}`);
  assertEquals(error.status, 429, error.message);
  return error;
}

function retryAfterOf(error: APIError): number {
  const seconds = Number(error.headers?.get("retry-after"));
  assert(Number.isInteger(seconds) && seconds >= 1 && seconds <= 60, `Retry-After ${seconds}`);
  return seconds;
}

async function withRig(
  limits: Record<string, unknown>,
  body: (rig: TestRig) => Promise<void>,
  options: { slow?: boolean } = {},
): Promise<void> {
  const rig = await startRig({ replicas: 1, limits });
  try {
    if (options.slow) { for (const sim of rig.sims) sim.faults.apply({ slow_token_ms: 1_000 }); }
    await body(rig);
  } finally {
    await rig.close();
  }
}

Deno.test("requests_per_minute: answers carry decreasing x-ratelimit headers, then a 429 with Retry-After", async () => {
  await withRig({ per_client: { requests_per_minute: 3 } }, async (rig) => {
    const alice = clientOf(rig, "alice");
    const remaining: (string | null)[] = [];
    for (let i = 0; i < 3; i++) {
      const { response } = await alice.chat.completions.create(chat(`hello ${i}`)).withResponse();
      assertEquals(response.headers.get("x-ratelimit-limit-requests"), "3");
      assert(
        /^\d+(\.\d+)?(ms|s)$|^\d+m[\d.]+s$/.test(
          response.headers.get("x-ratelimit-reset-requests")!,
        ),
      );
      remaining.push(response.headers.get("x-ratelimit-remaining-requests"));
    }
    assertEquals(remaining, ["2", "1", "0"]);
    const error = await refusal(alice.chat.completions.create(chat("one too many")));
    assertEquals([error.type, error.code], ["requests", "rate_limit_exceeded"]);
    assert(error.message.includes('client "alice"'), error.message);
    retryAfterOf(error);
    assertEquals(error.headers?.get("x-ratelimit-remaining-requests"), "0");
    // Tokens are not limited: no token headers.
    assertEquals(error.headers?.get("x-ratelimit-limit-tokens"), null);
    // Another client has its own minute; and the refusal is recorded as a 429.
    await clientOf(rig, "bob").chat.completions.create(chat("bob's first"));
    const stats = await (await fetch(`${rig.gateway.url}/api/stats`)).json();
    assertEquals(stats.summary.byStatus["4xx"], 1);
  });
});

Deno.test("tokens_per_minute: the charge is corrected to the real usage, then a 429 of type tokens", async () => {
  await withRig({ per_client: { tokens_per_minute: 200 } }, async (rig) => {
    const client = clientOf(rig, "alice");
    const first = await client.chat.completions.create(chat("count me")).withResponse();
    const charged = 200 - Number(first.response.headers.get("x-ratelimit-remaining-tokens"));
    assert(charged > 8, `charged ${charged}`);
    const used = first.data.usage!.total_tokens;
    // The same body is charged the same; the first one's charge became its usage when it ended.
    const second = await client.chat.completions.create(chat("count me")).withResponse();
    assertEquals(
      Number(second.response.headers.get("x-ratelimit-remaining-tokens")),
      200 - used - charged,
    );
    let error: APIError | undefined;
    for (let i = 0; i < 20 && error === undefined; i++) {
      error = await client.chat.completions.create(chat("count me")).then(
        () => undefined,
        (e) => e,
      );
    }
    assert(error instanceof APIError && error.status === 429, String(error));
    assertEquals([error.type, error.code], ["tokens", "rate_limit_exceeded"]);
    retryAfterOf(error);
    // One that can never fit is told to ask for less.
    const tooLarge = await refusal(
      client.chat.completions.create(chat("big", { max_tokens: 5000 })),
    );
    assert(tooLarge.message.includes("lower max_tokens"), tooLarge.message);
  });
});

Deno.test("max_concurrent: a second request while a slow stream is in flight gets a 429, and fits once it ends", async () => {
  await withRig({ per_client: { max_concurrent: 1 } }, async (rig) => {
    const client = clientOf(rig, "alice");
    const abort = new AbortController();
    const stream = await client.chat.completions.create(
      { ...chat("a long story", { max_tokens: 2000 }), stream: true },
      { signal: abort.signal },
    );
    const reading = (async () => {
      try {
        for await (const _ of stream);
      } catch {
        // Aborted below.
      }
    })();
    const error = await refusal(client.chat.completions.create(chat("meanwhile")));
    assertEquals(error.code, "concurrency_limit_exceeded");
    assertEquals(retryAfterOf(error), 1);
    // Another client is not held up by alice's stream.
    await clientOf(rig, "bob").chat.completions.create(chat("bob"));
    abort.abort();
    await reading;
    await waitFor(
      "alice's slot given back",
      () => client.chat.completions.create(chat("after")).then(() => true, () => false),
    );
  }, { slow: true });
});

Deno.test("a model's limit holds over all its clients, and session turns count under it", async () => {
  await withRig({ models: { [MODEL]: { requests_per_minute: 2 } } }, async (rig) => {
    const { response } = await clientOf(rig, "alice").chat.completions.create(chat("a"))
      .withResponse();
    assertEquals(response.headers.get("x-ratelimit-remaining-requests"), "1");
    // A session turn goes through the same check: its answer carries the headers.
    const post = (path: string, body: unknown) =>
      fetch(`${rig.gateway.url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-client-id": "carol" },
        body: JSON.stringify(body),
      });
    const session = await (await post("/v1/sessions", { model: MODEL })).json();
    const turn = await post(`/v1/sessions/${session.id}/chat`, { message: "hi", max_tokens: 4 });
    assertEquals(turn.status, 200, await turn.clone().text());
    assertEquals(turn.headers.get("x-ratelimit-remaining-requests"), "0");
    await turn.body?.cancel();
    const refused = await post(`/v1/sessions/${session.id}/chat`, { message: "again" });
    assertEquals(refused.status, 429);
    const body = await refused.json();
    assertEquals([body.error.type, body.error.code], ["requests", "rate_limit_exceeded"]);
    assert(body.error.message.includes(`model "${MODEL}"`), body.error.message);
    assert(Number(refused.headers.get("retry-after")) >= 1);
    // The refused turn left the session free: it is not busy, and its history has one turn.
    const history = await (await fetch(`${rig.gateway.url}/v1/sessions/${session.id}/history`))
      .json();
    assertEquals(history.data.length, 1);
    // Responses run as session turns: refused the same way.
    const responses = await refusal(
      clientOf(rig, "dave").responses.create({ model: MODEL, input: "hello" }),
    );
    assertEquals(responses.type, "requests");
  });
});

Deno.test("two gateways on one KV file enforce one requests_per_minute once they synced", async () => {
  await withRig({ per_client: { requests_per_minute: 4 }, sync_interval: 30 }, async (rig) => {
    const b = await startGateway(rig.config, { port: 0, hostname: "127.0.0.1" });
    try {
      const onA = clientOf(rig, "alice");
      const onB = clientOf(rig, "alice", b.url);
      await onA.chat.completions.create(chat("1 on A"));
      await onA.chat.completions.create(chat("2 on A"));
      // Synced by hand rather than by the (30 s) timer, so the test waits on nothing.
      await rig.gateway.limits.sync();
      await b.limits.sync();
      const { response } = await onB.chat.completions.create(chat("3 on B")).withResponse();
      assertEquals(response.headers.get("x-ratelimit-remaining-requests"), "1");
      await onB.chat.completions.create(chat("4 on B"));
      await refusal(onB.chat.completions.create(chat("5 on B")));
      // A learns of B's two at its next sync.
      await b.limits.sync();
      await rig.gateway.limits.sync();
      const error = await refusal(onA.chat.completions.create(chat("5 on A")));
      assertEquals(error.headers?.get("x-ratelimit-remaining-requests"), "0");
    } finally {
      await b.close({ deadlineMs: 2_000 });
    }
  });
});
