import assert from "node:assert/strict";
import { withSessions } from "./_testing.ts";
import type { ChatMessage } from "./mod.ts";

Deno.test("concurrent creates with no session cap share commits and count every session once", async () => {
  await withSessions("{}", async (sessions) => {
    const made = await Promise.all(
      Array.from(
        { length: 40 },
        (_, i) => sessions.create({ model: "m", client_id: i % 4 === 0 ? "a" : null }),
      ),
    );
    assert.ok(made.every((m) => m.ok));
    const stamps = new Set(made.map((m) => m.ok ? m.versionstamp : ""));
    assert.ok(stamps.size < 40, `${stamps.size} commits for 40 creates`);
    assert.equal(await sessions.store.activeCount(), 40);
    assert.equal(await sessions.store.activeCount("a"), 10);
    // A create of a taken id is refused and counts nothing.
    const id = made[0]!.ok ? made[0]!.head.id : "";
    const again = await sessions.create({ id, model: "m" });
    assert.ok(!again.ok && again.refusal.code === "session_exists");
    assert.equal(await sessions.store.activeCount(), 40);
  });
});

Deno.test("concurrent creates under max_sessions: exactly the cap get in, the rest a 429", async () => {
  await withSessions("{limits: {max_sessions: 5}}", async (sessions) => {
    const made = await Promise.all(
      Array.from({ length: 8 }, () => sessions.create({ model: "m" })),
    );
    assert.equal(made.filter((m) => m.ok).length, 5);
    for (const m of made) {
      if (!m.ok) assert.equal(m.refusal.code, "max_sessions_exceeded");
    }
    assert.equal(await sessions.store.activeCount(), 5);
  });
});

Deno.test("the store lists every session's last replica for the gateway's map of homes, alone on it", async () => {
  await withSessions("{}", async (sessions) => {
    // Alone on the store since the first heartbeat.
    assert.equal(typeof sessions.aloneSince, "number");
    const call = (backend: string | null, n: number) => ({
      model: "m",
      messages: [{ role: "user" as const, content: `hello ${n}` }],
      output: { role: "assistant" as const, content: "hi" },
      finishReason: "stop",
      usage: { prompt_tokens: 3, completion_tokens: 1, cached_tokens: 0 },
      backend,
      requestId: `r${n}`,
    });
    assert.ok(await sessions.recordPlain("s-a", call("http://replica-a", 1)));
    assert.ok(await sessions.recordPlain("s-b", call("http://replica-b", 2)));
    assert.ok(await sessions.recordPlain("s-b", call("http://replica-c", 3)));
    assert.ok(await sessions.recordPlain("s-none", call(null, 4)));
    const made = await sessions.create({ model: "m" });
    assert.ok(made.ok);
    const homes = new Map<string, string>();
    for await (const [id, backend] of sessions.store.homes()) homes.set(id, backend);
    assert.deepEqual(
      Object.fromEntries(homes),
      { "s-a": "http://replica-a", "s-b": "http://replica-c" },
    );
  });
});

Deno.test("a recorded call takes what the session holds from its head, or from the last turn of a head written before", async () => {
  await withSessions("{}", async (sessions) => {
    const user = (n: number) => ({ role: "user" as const, content: `question ${n}` });
    const reply = (n: number) => ({ role: "assistant" as const, content: `answer ${n}` });
    const call = (messages: ChatMessage[], n: number) => ({
      model: "m",
      messages,
      output: reply(n),
      finishReason: "stop",
      usage: { prompt_tokens: 3, completion_tokens: 1, cached_tokens: 0 },
      backend: "http://replica-a",
      requestId: `r${n}`,
    });
    const prompt: ChatMessage[] = [{ role: "system", content: "Be brief." }, user(1)];
    assert.ok(await sessions.recordPlain("s", call(prompt, 1)));
    assert.equal((await sessions.store.get("s"))?.head.last_prompt_messages, 3);
    prompt.push(reply(1), user(2));
    assert.ok(await sessions.recordPlain("s", call(prompt, 2)));
    // A head as written before it kept the count: the last turn says it.
    const found = await sessions.store.get("s");
    const { last_prompt_messages: _, ...old } = found!.head;
    assert.ok((await sessions.store.kv.set(["session", "s"], old)).ok);
    sessions.forget("s");
    prompt.push(reply(2), user(3));
    assert.ok(await sessions.recordPlain("s", call(prompt, 3)));
    const turns = await sessions.store.turns("s", 1);
    assert.deepEqual(turns.map((t) => t.input), [
      [{ role: "system", content: "Be brief." }, user(1)],
      [user(2)],
      [user(3)],
    ]);
    assert.equal((await sessions.store.get("s"))?.head.last_prompt_messages, 7);
  });
});
