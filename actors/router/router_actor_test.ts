import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { ActorSystem } from "../runtime/mod.ts";
import { waitFor } from "../runtime/testdata/wait.ts";
import { ModelRouter } from "./model_router.ts";
import { type AddResult, routerBehavior, type RouterMessage } from "./router_actor.ts";
import { createPicker, strategyOptions } from "./strategies/mod.ts";
import { report, REQUEST } from "./_testing.ts";

const proxy = { load_bound: 1.5, prefix_block_chars: 2048, prefix_cache_tokens: 430_000 };

/** A replica stand-in that answers `/health` and nothing else. */
function healthOnly(req: Request): Response {
  return new Response(null, { status: new URL(req.url).pathname === "/health" ? 200 : 404 });
}

/** A replica stand-in serving `handler`. */
function standIn(handler: Deno.ServeHandler): { url: string; close(): Promise<void> } {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  return { url: `http://127.0.0.1:${server.addr.port}`, close: () => server.shutdown() };
}

/** What a test gets: a router actor over two replica stand-ins. */
interface Rig {
  system: ActorSystem;
  router: ModelRouter;
  /** The stand-ins' URLs. */
  urls: [string, string];
  add(id: string, url: string): Promise<AddResult>;
}

/** Options of {@linkcode withRouter}. */
interface RigOptions {
  /** What both stand-ins answer. @default healthOnly */
  handler?: Deno.ServeHandler;
  /** @default 60_000 */
  scrapeIntervalMs?: number;
}

async function withRouter(
  fn: (rig: Rig) => Promise<void>,
  options: RigOptions = {},
): Promise<void> {
  const handler = options.handler ?? healthOnly;
  const servers = [standIn(handler), standIn(handler)] as const;
  const system = await ActorSystem.start();
  const router = new ModelRouter("m", createPicker("least_connections", strategyOptions(proxy)));
  const ref = system.spawn(
    routerBehavior({
      model: "m",
      router,
      healthIntervalMs: 60_000,
      scrapeIntervalMs: options.scrapeIntervalMs ?? 60_000,
      failureThreshold: 3,
      openMs: 1_000,
    }),
    "m",
  );
  const add = (id: string, url: string) =>
    ref.ask<AddResult>({ type: "add", id, url, source: "static" } satisfies RouterMessage);
  try {
    await fn({ system, router, urls: [servers[0].url, servers[1].url], add });
  } finally {
    await system.shutdown();
    await Promise.all(servers.map((s) => s.close()));
  }
}

Deno.test("re-adding an id under a new URL replaces its BackendActor at a fresh address", async () => {
  await withRouter(async ({ system, router, urls: [one, two], add }) => {
    assertEquals((await add("a", one)).created, true);
    await waitFor("a healthy first URL", () => router.eligibleCount === 1);
    const first = router.get("a")!.member.address;
    assertEquals((await add("a", `${two}/`)).created, true);
    assertEquals((await add("a", two)).created, false);
    const second = router.get("a")!.member;
    assertEquals([second.url, router.eligibleCount], [two, 0]);
    assert(second.address !== first);
    await waitFor("the old actor stopped", () => !system.has(first));
    assertEquals(system.childrenOf("router/m"), [second.address]);
    await waitFor("a healthy second URL", () => router.pick(REQUEST)?.url === two);
  });
});

Deno.test("a report from a BackendActor the router no longer runs is dropped", async () => {
  await withRouter(async ({ system, router, urls: [url], add }) => {
    await add("a", url);
    await waitFor("a healthy backend", () => router.eligibleCount === 1);
    const table = router.table;
    system.ref<RouterMessage>("router/m").tell({
      type: "report",
      from: "backend/m/a@0",
      report: report("a", false),
    });
    await add("b", url);
    assertEquals(router.get("a"), table.get("a"));
  });
});

Deno.test("a crashed RouterActor rebuilds its members under new BackendActors and keeps in-flight counts", async () => {
  await withRouter(async ({ system, router, urls: [url], add }) => {
    await add("a", url);
    await add("b", url);
    await waitFor("two healthy backends", () => router.eligibleCount === 2);
    const before = system.childrenOf("router/m");
    const view = router.pick(REQUEST)!;
    router.acquire(view);
    // A report without its report makes the handler throw.
    system.ref("router/m").tell({ type: "report" });
    await waitFor("the restarted router's actors", () => {
      const after = system.childrenOf("router/m");
      return after.length === 2 && after.every((a) => !before.includes(a));
    });
    assertEquals(router.list().map((b) => b.member.id).sort(), ["a", "b"]);
    assertEquals(router.get(view.id)?.view.inFlight, 1);
    router.release(view);
    assertEquals(router.get(view.id)?.view.inFlight, 0);
    assertEquals((await add("a", url)).created, false);
  });
});

Deno.test("a restarted RouterActor keeps its backends eligible until their new actors have probed them", async () => {
  // Health answers take a while and scrapes answer at once, so a new actor's first report is a
  // scrape that knows nothing of health yet.
  async function slowHealth(req: Request): Promise<Response> {
    if (new URL(req.url).pathname !== "/health") {
      return new Response("vllm:num_requests_running 0\n");
    }
    await new Promise((resolve) => setTimeout(resolve, 150));
    return new Response(null, { status: 200 });
  }
  await withRouter(async ({ system, router, urls: [url], add }) => {
    await add("a", url);
    await waitFor("a healthy backend", () => router.eligibleCount === 1);
    const before = system.childrenOf("router/m");
    let ineligible = 0;
    const sampler = setInterval(() => {
      if (router.eligibleCount === 0) ineligible++;
    }, 2);
    system.ref("router/m").tell({ type: "report" });
    await waitFor("the new actor's probe", () => {
      const after = system.childrenOf("router/m");
      return after.length === 1 && !before.includes(after[0]!) &&
        router.get("a")?.report?.metrics !== undefined;
    });
    await new Promise((resolve) => setTimeout(resolve, 250));
    clearInterval(sampler);
    assertEquals([ineligible, router.eligibleCount], [0, 1]);
  }, { handler: slowHealth, scrapeIntervalMs: 20 });
});

Deno.test("a registration naming a configured backend gives it no TTL, and a shorter TTL brings the sweep forward", async () => {
  await withRouter(async ({ system, router, urls: [one, two], add }) => {
    const ref = system.ref<RouterMessage>("router/m");
    await add("s", one);
    const registered = (id: string, url: string, ttlMs: number) =>
      ref.ask<AddResult>({ type: "add", id, url, source: "registered", ttlMs });
    assertEquals((await registered("s", one, 100)).expiresAtMs, undefined);
    // A long TTL first sets a slow sweep; a short one after it must still expire in time.
    await registered("long", two, 60_000);
    await registered("short", two, 100);
    await waitFor("the short registration to expire", () => router.get("short") === undefined, {
      timeoutMs: 2_000,
    });
    assertEquals(router.list().map((b) => b.member.id).sort(), ["long", "s"]);
    assertEquals(router.get("s")?.member.ttlMs, undefined);
  });
});
