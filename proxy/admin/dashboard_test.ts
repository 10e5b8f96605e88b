import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { startRig } from "../../gateway/testing.ts";

Deno.test("GET /dashboard/events sends the view model each interval and ends when the gateway closes", async () => {
  const rig = await startRig();
  let closed: Promise<void> | undefined;
  try {
    const response = await fetch(`${rig.gateway.url}/dashboard/events?interval=0.2`);
    assertEquals(response.status, 200);
    assertEquals(response.headers.get("content-type"), "text/event-stream");
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while ((text.match(/^event: update$/gm) ?? []).length < 2) {
      const { done, value } = await reader.read();
      assert(!done, `the stream ended early:\n${text}`);
      text += value;
    }
    const data = /^data: (.*)$/m.exec(text)![1]!;
    const vm = JSON.parse(data);
    assertEquals(vm.panels[0].id, "backends");
    assertEquals(vm.panels[0].rows.length, 2);
    // Closing waits for no dashboard: the stream ends long before this generous deadline.
    closed = rig.gateway.close({ deadlineMs: 60_000 });
    const ended = (async () => {
      while (!(await reader.read()).done) { /* the last updates */ }
      return "ended";
    })();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise((r) => timer = setTimeout(() => r("still open"), 30_000));
    assertEquals(await Promise.race([ended, late]), "ended");
    clearTimeout(timer);
  } finally {
    await closed;
    await rig.close();
  }
});

Deno.test("the dashboard's assets come from the gateway, uPlot from node_modules; a bad query is a 400", async () => {
  const rig = await startRig({ replicas: 1 });
  try {
    const uplot = await fetch(`${rig.gateway.url}/dashboard/assets/uplot.js`);
    assertEquals(uplot.headers.get("content-type"), "text/javascript; charset=utf-8");
    assert((await uplot.text()).includes("uPlot"));
    const css = await fetch(`${rig.gateway.url}/dashboard/assets/uplot.css`);
    assert((await css.text()).includes(".uplot"));
    const missing = await fetch(`${rig.gateway.url}/dashboard/assets/nope.js`);
    assertEquals(missing.status, 404);
    assertEquals((await missing.json()).error.code, "not_found");
    for (
      const [query, param] of [["interval=abc", "interval"], ["interval=61", "interval"], [
        "x=1",
        null,
      ]]
    ) {
      const bad = await fetch(`${rig.gateway.url}/dashboard/events?${query}`);
      assertEquals(bad.status, 400, query!);
      const body = await bad.json();
      assertEquals([body.error.code, body.error.param], ["invalid_query", param]);
    }
  } finally {
    await rig.close();
  }
});
