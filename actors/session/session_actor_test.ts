import assert from "node:assert/strict";
import { parseConfig } from "../../config/loader.ts";
import { ActorSystem } from "../runtime/mod.ts";
import { approxTokenCounter } from "./compression/tokens.ts";
import { SessionService } from "./service.ts";
import { SessionStore } from "./store.ts";

Deno.test("a session's actor passivates idle_passivate after its last turn, not while turns keep coming", async () => {
  const dir = await Deno.makeTempDir({ prefix: "turnpike-session-actor-" });
  const config = parseConfig(
    `models: [{name: m, endpoints: ["http://127.0.0.1:1"]}]\nstate_dir: ${dir}\nsessions: {idle_passivate: 0.3}\n`,
    "test.yaml",
  );
  const system = await ActorSystem.start({ kvPath: `${dir}/kv.sqlite3`, listen: false });
  const sessions = new SessionService({
    system,
    store: new SessionStore(system.kv!),
    config: config.sessions,
    budgetOf: () => 8192,
    countMessage: approxTokenCounter.countMessage,
    queueTimeoutMs: 5_000,
  });
  try {
    await sessions.start();
    const made = await sessions.create({ model: "m" });
    assert.ok(made.ok);
    const turn = async (n: number) => {
      const begun = await sessions.begin(made.head.id, {
        messages: [{ role: "user", content: `turn ${n}` }],
        source: "session",
        requestId: `r${n}`,
      });
      assert.ok(begun.ok);
      const done = await sessions.commit(begun.plan, {
        status: "completed",
        output: { role: "assistant", content: "ok" },
        finishReason: "stop",
        usage: { prompt_tokens: 5, completion_tokens: 1, cached_tokens: 0 },
        backend: null,
      });
      assert.ok(done.ok);
    };
    await turn(1);
    // Turns 120 ms apart for 1.2 s, four times the idle time: the timer armed at the first turn
    // fires between turns and is armed again; the actor lives on.
    for (let n = 2; n <= 11; n++) {
      await new Promise((r) => setTimeout(r, 120));
      assert.equal(sessions.liveActors, 1, `before turn ${n}`);
      await turn(n);
    }
    const last = performance.now();
    let stoppedAfter: number | undefined;
    while (performance.now() - last < 2_000) {
      await new Promise((r) => setTimeout(r, 20));
      if (sessions.liveActors === 0) {
        stoppedAfter = performance.now() - last;
        break;
      }
    }
    assert.ok(stoppedAfter !== undefined, "the actor did not passivate");
    assert.ok(stoppedAfter >= 280, `passivated ${stoppedAfter} ms after its last turn`);
  } finally {
    await sessions.close();
    await system.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
