import * as assert from "node:assert/strict";
import { request, routerOver } from "./_testing.ts";
import { DEFAULT_MAX_NUM_SEQS, maxTokensOf, replicaCapacity, requestTokens } from "./capacity.ts";

const OPTIONS = { maxInFlight: undefined, kvFraction: 0.9, outputTokensEstimate: 256 };

Deno.test("a replica's caps: vLLM's default max_num_seqs and its scraped KV capacity times kv_fraction", () => {
  const load = { running: 0, waiting: 0, kvUsage: 0, scrapedAtMs: 0, kvCapacityTokens: 430_080 };
  const scraped = routerOver(["a"], load).get("a")!.view;
  assert.deepEqual(replicaCapacity(scraped, OPTIONS), {
    requests: DEFAULT_MAX_NUM_SEQS,
    tokens: 430_080 * 0.9,
  });
  const unscraped = routerOver(["b"]).get("b")!.view;
  assert.deepEqual(replicaCapacity(unscraped, { ...OPTIONS, maxInFlight: 8 }), {
    requests: 8,
    tokens: Infinity,
  });
});

Deno.test("a request's tokens are its prompt at four characters a token plus max_tokens or the estimate", () => {
  assert.equal(requestTokens(request(60_000), 100, OPTIONS), 15_100);
  assert.equal(requestTokens(request(60_000), undefined, OPTIONS), 15_256);
  assert.equal(maxTokensOf({ max_tokens: 7 }), 7);
  assert.equal(maxTokensOf({ max_completion_tokens: 9 }), 9);
  assert.equal(maxTokensOf({ max_tokens: "7" }), undefined);
  assert.equal(maxTokensOf(null), undefined);
});
