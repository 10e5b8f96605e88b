import assert from "node:assert/strict";
import { withSessions } from "./_testing.ts";

Deno.test("a session's actor passivates idle_passivate after its last turn, not while turns keep coming", async () => {
  await withSessions("{idle_passivate: 0.3}", async (sessions) => {
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
  });
});
