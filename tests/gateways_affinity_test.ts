/**
 * Two gateways on one KV file route a conversation alike: plain `/v1/chat/completions` calls with
 * the session header take the replica the session head names (written by whichever gateway
 * served the last call), so a conversation moved to the other gateway stays on its replica; and
 * without a session header prefix_aware finds a prompt the other gateway routed, from the
 * placements the gateways share through KV.
 */
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import OpenAI from "openai";
import { MODEL, startRig, waitFor } from "../gateway/testing.ts";
import { startGateway } from "../gateway/mod.ts";

const SESSIONS = 6;

async function turn(
  client: OpenAI,
  session: string,
  content: string,
  baseUrl: string,
): Promise<string> {
  const { response } = await client.chat.completions.create({
    model: MODEL,
    messages: [{ role: "user", content }],
    max_tokens: 2,
  }, { headers: { "X-Session-ID": session } }).withResponse();
  const backend = response.headers.get("x-turnpike-backend");
  if (backend === null) throw new Error(`${baseUrl} named no backend`);
  return backend;
}

async function sessionBackend(url: string, session: string): Promise<string | null> {
  const res = await fetch(`${url}/v1/sessions/${session}`);
  if (!res.ok) {
    await res.body?.cancel();
    return null;
  }
  return ((await res.json()) as { backend: string | null }).backend;
}

/** Three replicas behind a gateway with `proxy`, and a second gateway on its KV file with a client. */
async function twoGateways(proxy: Record<string, unknown>) {
  const rig = await startRig({ replicas: 3, proxy });
  const other = await startGateway(rig.config, { port: 0, hostname: "127.0.0.1" });
  const otherClient = new OpenAI({
    baseURL: `${other.url}/v1`,
    apiKey: "test",
    maxRetries: 0,
    timeout: 20_000,
  });
  return { rig, other, otherClient };
}

Deno.test("a conversation alternating between two gateways on one KV file stays on one replica", async () => {
  const { rig, other, otherClient } = await twoGateways({ strategy: "session_affinity" });
  try {
    const ids = Array.from(
      { length: SESSIONS },
      (_, i) => `conversation-${i}-${crypto.randomUUID()}`,
    );
    const first = new Map<string, string>();
    for (const id of ids) {
      first.set(id, await turn(rig.client, id, `hello from ${id}`, rig.gateway.url));
    }
    // The recorder writes each session head after its answer, off the hot path.
    for (const id of ids) {
      await waitFor(
        `the head of ${id} names its replica`,
        async () => (await sessionBackend(rig.gateway.url, id)) === first.get(id),
        { everyMs: 20 },
      );
    }
    // The other gateway takes the next turns, in the other order (its own least-load tie-breaks
    // would seat them elsewhere), then they go back to the first one.
    const second = new Map<string, string>();
    for (const id of [...ids].reverse()) {
      second.set(id, await turn(otherClient, id, `hello again from ${id}`, other.url));
    }
    assertEquals(Object.fromEntries(second), Object.fromEntries(first));
    for (const id of ids) {
      await waitFor(
        `the head of ${id} names its replica after the other gateway`,
        async () => (await sessionBackend(other.url, id)) === first.get(id),
        { everyMs: 20 },
      );
    }
    const third = new Map<string, string>();
    for (const id of ids) {
      third.set(id, await turn(rig.client, id, `and again ${id}`, rig.gateway.url));
    }
    assertEquals(Object.fromEntries(third), Object.fromEntries(first));
    // The conversations were spread, not all on one replica.
    assertEquals(new Set(first.values()).size, 3);
  } finally {
    await other.close({ deadlineMs: 2_000 });
    await rig.close();
  }
});

Deno.test("a prompt routed by one gateway finds its replica through another: prefix_aware indexes share their placements through KV", async () => {
  const { rig, other, otherClient } = await twoGateways({
    strategy: "prefix_aware",
    placement_share_interval: 0.05,
  });
  // No session header: only the prefix indexes know where each long prompt went.
  const ask = async (client: OpenAI, messages: OpenAI.ChatCompletionMessageParam[]) => {
    const { response } = await client.chat.completions.create({
      model: MODEL,
      messages,
      max_tokens: 2,
    }).withResponse();
    return response.headers.get("x-turnpike-backend")!;
  };
  try {
    const prompts = Array.from(
      { length: SESSIONS },
      (_, i) => `${i} ${crypto.randomUUID()} `.repeat(400),
    );
    // A gateway alone on the store shares nothing: the first one learns of the other from its
    // heartbeat (every 2 s).
    await waitFor(
      "the first gateway to see the other on the store",
      () => Promise.resolve(rig.gateway.sessions.othersPresent),
      { everyMs: 20 },
    );
    const first = new Map<string, string>();
    for (const p of prompts) first.set(p, await ask(rig.client, [{ role: "user", content: p }]));
    assertEquals(new Set(first.values()).size, 3);
    await waitFor(
      "the other gateway to take in the placements",
      () => Promise.resolve((other.placements?.absorbed ?? 0) >= SESSIONS),
      { everyMs: 20 },
    );
    // Each prefill counted as load there ends with its first token at the first gateway.
    await waitFor(
      "the other gateway to see every prefill end",
      () => Promise.resolve(other.placements?.foreignPrefills === 0),
      { everyMs: 20 },
    );
    // The next turn of each, through the other gateway, in the other order (its own tie-breaks
    // by load would seat them elsewhere).
    const second = new Map<string, string>();
    for (const p of [...prompts].reverse()) {
      second.set(
        p,
        await ask(otherClient, [
          { role: "user", content: p },
          { role: "assistant", content: "ok" },
          { role: "user", content: "and then?" },
        ]),
      );
    }
    assertEquals(Object.fromEntries(second), Object.fromEntries(first));
    const health = await (await fetch(`${other.url}/health/detailed`)).json();
    assertEquals(health.placements, {
      shared: true,
      others_present: true,
      absorbed: SESSIONS,
      foreign_prefills: 0,
    });
  } finally {
    await other.close({ deadlineMs: 2_000 });
    await rig.close();
  }
});

Deno.test("a gateway restarted alone on its KV file keeps each conversation on the replica it had", async () => {
  const rig = await startRig({ replicas: 3, proxy: { strategy: "session_affinity" } });
  try {
    const ids = Array.from({ length: SESSIONS }, (_, i) => `restart-${i}-${crypto.randomUUID()}`);
    const before = new Map<string, string>();
    for (const id of ids) before.set(id, await turn(rig.client, id, `hi ${id}`, rig.gateway.url));
    for (const id of ids) {
      await waitFor(
        `the head of ${id} names its replica`,
        async () => (await sessionBackend(rig.gateway.url, id)) === before.get(id),
        { everyMs: 20 },
      );
    }
    await rig.restart();
    // A new conversation first (the new process then reads every home KV holds), then the old
    // ones in the other order, which its own least-load tie-breaks would seat elsewhere.
    await turn(rig.client, `fresh-${crypto.randomUUID()}`, "hello", rig.gateway.url);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const after = new Map<string, string>();
    for (const id of [...ids].reverse()) {
      after.set(id, await turn(rig.client, id, `hi again ${id}`, rig.gateway.url));
    }
    assertEquals(Object.fromEntries(after), Object.fromEntries(before));
    assertEquals(new Set(before.values()).size, 3);
  } finally {
    await rig.close();
  }
});
