import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { startRig } from "../../gateway/testing.ts";
import { watchDashboards } from "./dashboards.ts";

Deno.test("watchDashboards() polls the TUI's endpoints and reads /dashboard/events updates from a real gateway", async () => {
  const rig = await startRig();
  try {
    const stop = new AbortController();
    const watching = watchDashboards(rig.gateway.url, stop.signal);
    await new Promise((r) => setTimeout(r, 2_500));
    stop.abort();
    const stats = await watching;
    assert(stats.polls >= 1, JSON.stringify(stats));
    assert(stats.events >= 1, JSON.stringify(stats));
    assertEquals([stats.pollErrors, stats.eventErrors], [0, 0]);
  } finally {
    await rig.close();
  }
});
