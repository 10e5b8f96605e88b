import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { HeadersSchema, LimitsSchema, ProxySchema } from "../../config/mod.ts";
import { type Principal, type PrincipalLimits, setPrincipal } from "../auth/principal.ts";
import { Deadlines } from "../openai/deadlines.ts";
import { Exchange } from "../openai/exchange.ts";
import type { ForwardContext } from "../openai/forward.ts";
import { RecordStore, type RequestRecord } from "../records.ts";
import { RateLimits, usedTokens } from "./rate_limits.ts";

/** A context for exchanges that are checked and finished here, never sent upstream. */
function contextOf(records: RecordStore, deadlines: Deadlines): ForwardContext {
  return {
    proxy: ProxySchema.parse({}),
    headers: HeadersSchema.parse({}),
    router: () => undefined,
    features: (_body, sessionId) => ({ model: "m", sessionId, prefixHashes: [], promptChars: 0 }),
    started: () => {},
    finished: () => {},
    records,
    upstream: {
      request: () => Promise.reject(new Error("these exchanges are never sent upstream")),
    },
    deadlines,
  };
}

function principal(clientId: string, limits: PrincipalLimits): Principal {
  return {
    kind: "key",
    clientId,
    credentialId: `key-${clientId}`,
    models: "*",
    priority: undefined,
    priorityHeader: false,
    limits,
    admin: false,
  };
}

/** Rate limits of `limits` config, and a way to check one request of a client against them. */
async function withLimits(
  limits: Record<string, unknown>,
  body: (
    check: (options?: { principal?: Principal; clientHeader?: string; endpoint?: string }) => {
      refused: Response | undefined;
      exchange: Exchange;
    },
  ) => void | Promise<void>,
): Promise<void> {
  const records = new RecordStore();
  const deadlines = new Deadlines();
  const context = contextOf(records, deadlines);
  const rateLimits = new RateLimits(LimitsSchema.parse(limits));
  try {
    await body((options = {}) => {
      const request = new Request("http://gateway/v1/chat/completions", {
        method: "POST",
        headers: options.clientHeader ? { "x-client-id": options.clientHeader } : {},
      });
      if (options.principal) setPrincipal(request, options.principal);
      const exchange = new Exchange(request, {
        endpoint: options.endpoint ?? "/v1/chat/completions",
        context,
      });
      const json = { model: "m", messages: [], max_tokens: 10 };
      const refused = rateLimits.limit(request, exchange, {
        model: "m",
        stream: false,
        json,
        bytes: new TextEncoder().encode(JSON.stringify(json)),
      });
      return { refused, exchange };
    });
  } finally {
    await rateLimits.close();
    deadlines.clear();
  }
}

Deno.test("limit() lets a principal's own limits override the defaults field by field", async () => {
  await withLimits({ per_client: { requests_per_minute: 5, max_concurrent: 1 } }, async (check) => {
    const alice = principal("alice", { requestsPerMinute: 1 });
    const first = check({ principal: alice });
    assertEquals(first.refused, undefined);
    const headers = new Map(first.exchange.extraHeaders);
    assertEquals(headers.get("x-ratelimit-limit-requests"), "1");
    first.exchange.finish(200);
    const second = check({ principal: alice });
    assertEquals(second.refused?.status, 429);
    // max_concurrent comes from the defaults: bob's first is held, his second refused.
    const bob = principal("bob", {});
    assertEquals(check({ principal: bob }).refused, undefined);
    const held = await check({ principal: bob }).refused?.json();
    assertEquals(held.error.code, "concurrency_limit_exceeded");
  });
});

Deno.test("limit() keeps clients by the client header, else as anonymous, when auth is off", async () => {
  await withLimits({ per_client: { requests_per_minute: 1 } }, async (check) => {
    assertEquals(check({ clientHeader: "carol" }).refused, undefined);
    assertEquals(check().refused, undefined);
    const refused = check();
    assert(refused.refused);
    const body = await refused.refused.json();
    assert(body.error.message.includes('client "anonymous"'), body.error.message);
    assertEquals(refused.refused.headers.get("x-ratelimit-remaining-requests"), "0");
    assertEquals(refused.exchange.record.status, 429);
    assertEquals(check({ clientHeader: "carol" }).refused?.status, 429);
  });
});

Deno.test("limit() gives a request's slot back once, however often its exchange finishes", async () => {
  await withLimits({ per_client: { max_concurrent: 2 } }, (check) => {
    const first = check();
    check();
    first.exchange.finish(200);
    first.exchange.finish(200);
    assertEquals(check().refused, undefined);
    assertEquals(check().refused?.status, 429);
  });
});

Deno.test("limit() does nothing for a request no limit applies to", async () => {
  await withLimits({}, (check) => {
    const { refused, exchange } = check({ clientHeader: "dave" });
    assertEquals([refused, exchange.extraHeaders, exchange.onFinish], [
      undefined,
      undefined,
      undefined,
    ]);
  });
});

Deno.test("usedTokens() takes the usage, else the charge of an answered request, else nothing", () => {
  const record = (fields: Partial<RequestRecord>) =>
    ({ status: 200, usageSource: "none", ...fields }) as RequestRecord;
  assertEquals(
    usedTokens(
      record({ usageSource: "reported", promptTokens: 7, completionTokens: 5 }),
      100,
    ),
    12,
  );
  assertEquals(usedTokens(record({ usageSource: "counted", completionTokens: 3 }), 100), 3);
  assertEquals(usedTokens(record({}), 100), 100);
  assertEquals(usedTokens(record({ status: 502 }), 100), 0);
  assertEquals(usedTokens(record({ status: 499 }), 100), 0);
});
