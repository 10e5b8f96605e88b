/**
 * The web dashboard in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core)
 * against a real gateway over simulated replicas with traffic.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { type Browser, chromium, type Page } from "playwright-core";
import { chat, startRig, type TestRig, waitFor } from "../../gateway/testing.ts";
import { startServe } from "../_testing.ts";

const ADMIN_KEY = "dashboard-test-admin-key-0123456789";

async function withBrowser(fn: (browser: Browser) => Promise<void>): Promise<void> {
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  try {
    await fn(browser);
  } finally {
    await browser.close();
  }
}

/** Every console error and uncaught page error, as text. */
function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`console: ${m.text()}`);
  });
  page.on("pageerror", (e) => errors.push(`page: ${e.message}`));
  page.on("requestfailed", (r) => {
    // The event stream is cut when the page closes; anything else failing is a fault.
    if (!r.url().includes("/dashboard/events")) errors.push(`request failed: ${r.url()}`);
  });
  return errors;
}

/** Streamed turns in a loop until stopped. */
function traffic(rig: TestRig): { stop(): Promise<void> } {
  let running = true;
  const loops = [0, 1, 2].map(async (i) => {
    while (running) {
      const stream = await rig.client.chat.completions.create(
        { ...chat(`turn of loop ${i}`), max_tokens: 32, stream: true },
        { headers: { "x-session-id": `browser-${i}` } },
      );
      for await (const _ of stream) { /* read it all */ }
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

async function healthyIds(rig: TestRig): Promise<string[]> {
  const body = await (await fetch(`${rig.gateway.url}/api/backends`, {
    headers: { authorization: `Bearer ${ADMIN_KEY}` },
  })).json();
  return body.backends.filter((b: { healthy: boolean }) => b.healthy).map((b: { id: string }) =>
    b.id
  );
}

async function updatedText(page: Page): Promise<string> {
  return (await page.textContent("#updated")) ?? "";
}

Deno.test("the web dashboard loads without errors, shows every healthy backend, and its charts move with traffic", async () => {
  const rig = await startRig({ replicas: 3 });
  try {
    await waitFor("3 healthy backends", async () => (await healthyIds(rig)).length === 3, {
      timeoutMs: 30_000,
    });
    await withBrowser(async (browser) => {
      const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      const errors = collectErrors(page);
      await page.goto(`${rig.gateway.url}/dashboard?interval=0.3`);
      const ids = await healthyIds(rig);
      await waitFor("every healthy backend on the page", async () => {
        const text = (await page.textContent("#panel-backends")) ?? "";
        return ids.every((id) => text.includes(id)) && text.includes("healthy");
      }, { timeoutMs: 30_000, everyMs: 100 });
      assertEquals(await page.textContent("#connection"), "connected");
      assert(await page.isVisible("#chart-load .uplot"), "the load chart is drawn");
      const before = await page.locator("#charts").screenshot();
      const load = traffic(rig);
      try {
        // Several updates with traffic flowing, and the TTFT series has values.
        for (let i = 0; i < 5; i++) {
          const seen = await updatedText(page);
          await waitFor("a new update", async () => (await updatedText(page)) !== seen, {
            timeoutMs: 20_000,
            everyMs: 50,
          });
        }
        await waitFor(
          "TTFT figures in the backends table",
          async () => /\d ms/.test((await page.textContent("#panel-backends tbody")) ?? ""),
          { timeoutMs: 30_000, everyMs: 100 },
        );
      } finally {
        await load.stop();
      }
      await waitFor(
        "the traffic's sessions and the bottleneck shares",
        async () =>
          ((await page.textContent("#panel-sessions")) ?? "").includes("browser-0") &&
          /went over/.test((await page.textContent("#panel-bottlenecks")) ?? ""),
        { timeoutMs: 30_000, everyMs: 100 },
      );
      for (const id of ["backends", "queue", "sessions", "bottlenecks", "slo", "jobs"]) {
        assert(await page.isVisible(`#panel-${id}`), `panel ${id}`);
      }
      const after = await page.locator("#charts").screenshot();
      assert(!before.equals(after), "the chart area did not change");
      // A click expands a row with its detail, a second collapses it.
      await page.click(`#panel-backends tr.row[data-key$="${ids[0]}"]`);
      await page.waitForSelector("#panel-backends tr.detail");
      assert(((await page.textContent("#panel-backends tr.detail")) ?? "").includes("url http://"));
      await page.click(`#panel-backends tr.row[data-key$="${ids[0]}"]`);
      await page.waitForSelector("#panel-backends tr.detail", { state: "detached" });
      assertEquals(errors, []);
    });
  } finally {
    await rig.close();
  }
});

Deno.test("with auth on the dashboard asks for the admin key, refuses a wrong one, and shows the feed with the right one", async () => {
  const rig = await startRig({
    auth: { enabled: true, admin_key: ADMIN_KEY },
    logging: { level: "warn" },
  });
  try {
    const page = await fetch(`${rig.gateway.url}/dashboard`);
    assertEquals(page.status, 200);
    assert((await page.text()).includes("<title>turnpike dashboard</title>"));
    const anonymous = await fetch(`${rig.gateway.url}/dashboard/events`);
    assertEquals(anonymous.status, 401);
    assertEquals((await anonymous.json()).error.type !== undefined, true);
    const created = await (await fetch(`${rig.gateway.url}/api/keys`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "dash-test", client_id: "agent-1" }),
    })).json();
    const client = await fetch(`${rig.gateway.url}/dashboard/events`, {
      headers: { authorization: `Bearer ${created.key}` },
    });
    assertEquals(client.status, 403, "a client's key may not read the feed");
    await client.body?.cancel();
    const badQuery = await fetch(`${rig.gateway.url}/dashboard/events?interval=0`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    assertEquals(badQuery.status, 400);
    assertEquals((await badQuery.json()).error.param, "interval");
    await withBrowser(async (browser) => {
      const tab = await browser.newPage();
      await tab.goto(`${rig.gateway.url}/dashboard?interval=0.3`);
      await tab.waitForSelector("#login", { state: "visible" });
      await tab.fill("#admin-key", "not-the-admin-key-at-all");
      await tab.click("#login button");
      await waitFor(
        "the wrong key refused",
        async () =>
          (await tab.isVisible("#login")) && ((await tab.textContent("#login-error")) ?? "") !== "",
        { timeoutMs: 20_000, everyMs: 100 },
      );
      await tab.fill("#admin-key", ADMIN_KEY);
      await tab.click("#login button");
      const ids = await healthyIds(rig);
      await waitFor("the backends with the admin key", async () => {
        const text = (await tab.textContent("#panel-backends")) ?? "";
        return ids.length > 0 && ids.every((id) => text.includes(id));
      }, { timeoutMs: 30_000, everyMs: 100 });
      assert(!(await tab.isVisible("#login")));
    });
  } finally {
    await rig.close();
  }
});

Deno.test("the web dashboard says disconnected when the gateway stops and reconnects when it is back", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "turnpike-dash-web-" });
  let serve = await startServe(stateDir);
  try {
    await withBrowser(async (browser) => {
      const page = await browser.newPage();
      await page.goto(`${serve.url}/dashboard?interval=0.3`);
      await waitFor(
        "connected",
        async () => (await page.textContent("#connection")) === "connected",
        {
          timeoutMs: 30_000,
          everyMs: 100,
        },
      );
      await serve.stop();
      await waitFor(
        "disconnected",
        async () =>
          ((await page.textContent("#connection")) ?? "").startsWith(
            "disconnected from the gateway",
          ),
        {
          timeoutMs: 30_000,
          everyMs: 100,
        },
      );
      serve = await startServe(stateDir, { port: serve.port });
      await waitFor(
        "reconnected",
        async () => (await page.textContent("#connection")) === "connected",
        {
          timeoutMs: 60_000,
          everyMs: 100,
        },
      );
      // The new gateway's first probes may not be in yet: "unknown" until they are.
      await waitFor(
        "a healthy backend after the restart",
        async () => ((await page.textContent("#panel-backends")) ?? "").includes("healthy"),
        {
          timeoutMs: 60_000,
          everyMs: 100,
        },
      );
    });
  } finally {
    await serve.stop();
    await Deno.remove(stateDir, { recursive: true });
  }
});
