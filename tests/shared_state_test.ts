/**
 * Several gateway processes on one KV file: each `serve` runs as its own process (its own process
 * group, killed whole afterwards) over simulated replicas, and they share request records and
 * backend registrations through KV.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { join } from "node:path";
import { type SimServer, startSimulator } from "../sim/mod.ts";
import { waitFor } from "../actors/runtime/testdata/wait.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const ROOT = new URL("../", import.meta.url).pathname;
const MODEL = "llama-3.1-8b-sim";

/** One `serve` process. */
interface GatewayProcess {
  url: string;
  /** Its actor system's node id, as `/api/stats` names it. */
  node: string;
  /** Sends `signal` to its whole process group and waits for it to exit. */
  stop(signal: Deno.Signal): Promise<void>;
}

/** Signals the whole process group `pid` leads; nothing when it is gone. */
function signalGroup(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(-pid, signal);
  } catch {
    // The group has exited already.
  }
}

/** Starts and stops the gateway processes of one test, all on one state dir and config. */
class Cluster {
  readonly #children: Deno.ChildProcess[] = [];
  readonly #configPath: string;
  readonly #stateDir: string;

  constructor(stateDir: string, configPath: string) {
    this.#stateDir = stateDir;
    this.#configPath = configPath;
  }

  /** Writes the config every process of this cluster reads. */
  static async create(config: Record<string, unknown>): Promise<Cluster> {
    const stateDir = await Deno.makeTempDir({ prefix: "turnpike-shared-state-" });
    const configPath = join(stateDir, "turnpike.yaml");
    // JSON is YAML.
    await Deno.writeTextFile(configPath, JSON.stringify({ ...config, state_dir: stateDir }));
    return new Cluster(stateDir, configPath);
  }

  /** Starts `serve --config` on a free port and waits until it listens. */
  async start(): Promise<GatewayProcess> {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, "serve", "--config", this.#configPath, "--port", "0"],
      cwd: ROOT,
      env: { TURNPIKE_STATE_DIR: this.#stateDir },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      detached: true,
    }).spawn();
    this.#children.push(child);
    const stderr = new Response(child.stderr).text();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let printed = "";
    let url: string | undefined;
    const deadline = Date.now() + 60_000;
    while (url === undefined) {
      if (Date.now() > deadline) throw new Error(`serve did not start in time:\n${printed}`);
      const { done, value } = await reader.read();
      if (done) throw new Error(`serve exited:\n${printed}\n${await stderr}`);
      printed += value;
      url = /listening on (http:\/\/[\d.]+:\d+)/.exec(printed)?.[1];
    }
    // Keep reading so a full pipe never blocks the process.
    void (async () => {
      while (!(await reader.read().catch(() => ({ done: true }))).done);
    })();
    const stats = await getJson(`${url}/api/stats`);
    return {
      url,
      node: stats.node as string,
      async stop(signal) {
        signalGroup(child.pid, signal);
        await child.status;
      },
    };
  }

  /** Kills every process group it started (whatever is left of them) and removes the state dir. */
  async close(): Promise<void> {
    for (const child of this.#children) signalGroup(child.pid, "SIGKILL");
    await Promise.all(this.#children.map((child) => child.status));
    await Deno.remove(this.#stateDir, { recursive: true });
  }
}

async function getJson(url: string): Promise<Record<string, unknown>> {
  const response = await fetch(url);
  const body = await response.json();
  if (!response.ok) {
    throw new Error(`GET ${url} answered ${response.status}: ${JSON.stringify(body)}`);
  }
  return body;
}

async function send(
  url: string,
  method: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(url, {
    method,
    headers: { "content-type": "application/json", ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, json: await response.json() };
}

function chat(gateway: GatewayProcess, session: string) {
  return send(`${gateway.url}/v1/chat/completions`, "POST", {
    model: MODEL,
    messages: [{ role: "user", content: `hello from ${session}` }],
    max_tokens: 4,
  }, { "x-session-id": session });
}

type Listed = Record<string, unknown>;

async function requests(gateway: GatewayProcess, query: string): Promise<Listed[]> {
  return (await getJson(`${gateway.url}/api/requests?${query}`)).data as Listed[];
}

async function backends(gateway: GatewayProcess): Promise<Listed[]> {
  return (await getJson(`${gateway.url}/api/backends`)).backends as Listed[];
}

function finished(sim: SimServer): number {
  const f = sim.engine.metrics.finished;
  return f.length + f.stop + f.abort;
}

async function withSims(count: number, fn: (sims: SimServer[]) => Promise<void>): Promise<void> {
  const sims: SimServer[] = [];
  try {
    for (let i = 0; i < count; i++) {
      sims.push(await startSimulator({ port: 0, timeScale: 20, tokenizer: "approx", seed: i }));
    }
    await fn(sims);
  } finally {
    await Promise.all(sims.map((s) => s.close()));
  }
}

const PROXY = {
  health_check_interval: 0.5,
  metrics_scrape_interval: 0.5,
  registration_sync_interval: 0.2,
  records: { retention: 5, flush_interval: 0.05 },
};

Deno.test("a request through one gateway process shows in another's cluster view, within the retention", async () => {
  await withSims(1, async ([sim]) => {
    const cluster = await Cluster.create({
      proxy: PROXY,
      models: [{ name: MODEL, endpoints: [sim!.url] }],
    });
    try {
      const [a, b] = [await cluster.start(), await cluster.start()];
      assert(a.node !== b.node);
      assertEquals((await chat(a, "shared-1")).status, 200);
      const seen = await waitFor(
        "a's record in b's cluster view",
        async () => (await requests(b, "scope=cluster&session=shared-1"))[0],
      );
      assertEquals([seen.node, seen.status, seen.model, seen.backendId], [
        a.node,
        200,
        MODEL,
        new URL(sim!.url).host,
      ]);
      assertEquals(await requests(b, "session=shared-1"), [], "b's own records lack it");
      assertEquals((await requests(a, "session=shared-1")).length, 1);

      // Seven more through both processes, each logged before the next: the oldest three go.
      for (let i = 2; i <= 8; i++) {
        assertEquals((await chat(i % 2 === 0 ? b : a, `shared-${i}`)).status, 200);
        await waitFor(`request ${i} to be logged`, async () => {
          const stats = await getJson(`${a.url}/api/stats?scope=cluster`);
          return (stats.summary as Listed).total === i;
        });
      }
      const kept = await waitFor("the log to be pruned to its retention", async () => {
        const all = await requests(b, "scope=cluster&limit=100");
        return all.length === 5 && all;
      });
      assertEquals(kept.map((r) => r.sessionId), [8, 7, 6, 5, 4].map((i) => `shared-${i}`));
      const stats = await getJson(`${b.url}/api/stats?scope=cluster`);
      assertEquals([(stats.summary as Listed).total, (stats.summary as Listed).kept], [8, 5]);
      assertEquals(stats.nodes, { [a.node]: 2, [b.node]: 3 });

      const firstPage = await getJson(`${a.url}/api/requests?scope=cluster&limit=2`);
      assertEquals(firstPage.has_more, true);
      const rest = await getJson(
        `${a.url}/api/requests?scope=cluster&limit=10&cursor=${firstPage.next_cursor}`,
      );
      assertEquals(
        [...firstPage.data as Listed[], ...rest.data as Listed[]].map((r) => r.sessionId),
        kept.map((r) => r.sessionId),
      );
      assertEquals([rest.has_more, rest.next_cursor], [false, null]);
    } finally {
      await cluster.close();
    }
  });
});

Deno.test("a replica registered through one gateway process is routed to by another, until it is deregistered", async () => {
  await withSims(1, async ([sim]) => {
    const cluster = await Cluster.create({ proxy: PROXY, models: [] });
    try {
      const [a, b] = [await cluster.start(), await cluster.start()];
      assertEquals((await chat(b, "before")).status, 404, "b knows no such model yet");
      const registered = await send(`${a.url}/api/backends`, "POST", {
        url: sim!.url,
        model: MODEL,
        ttl_seconds: 30,
        id: "shared-replica",
      });
      assertEquals(registered.status, 201);
      const listed = await waitFor("b to route to a's registration", async () => {
        const found = (await backends(b)).find((x) => x.id === "shared-replica");
        return found?.healthy === true && found;
      });
      assertEquals([listed.source, listed.registered_by, listed.url], [
        "registered",
        a.node,
        sim!.url,
      ]);
      const before = finished(sim!);
      assertEquals((await chat(b, "through-b")).status, 200);
      assertEquals(finished(sim!), before + 1, "the registered replica answered");
      assertEquals((await requests(b, "session=through-b"))[0]?.backendId, "shared-replica");

      const deleted = await send(`${a.url}/api/backends/shared-replica`, "DELETE");
      assertEquals([deleted.status, deleted.json.deleted], [200, true]);
      await waitFor("the deregistration to reach b", async () => (await backends(b)).length === 0);
      const after = await chat(b, "after");
      assertEquals([after.status, (after.json.error as Listed).code], [404, "model_not_found"]);
    } finally {
      await cluster.close();
    }
  });
});

Deno.test("registrations survive the crash of every gateway process", async () => {
  await withSims(1, async ([sim]) => {
    const cluster = await Cluster.create({ proxy: PROXY, models: [] });
    try {
      const [a, b] = [await cluster.start(), await cluster.start()];
      const registered = await send(`${a.url}/api/backends`, "POST", {
        url: sim!.url,
        model: MODEL,
        ttl_seconds: 60,
      });
      assertEquals(registered.status, 201);
      await Promise.all([a.stop("SIGKILL"), b.stop("SIGKILL")]);

      const restarted = await cluster.start();
      const ids = (await backends(restarted)).map((x) => x.id);
      assertEquals(ids, [new URL(sim!.url).host], "listed as soon as it serves");
      await waitFor(
        "the registration to be healthy again",
        async () => (await backends(restarted))[0]?.healthy === true,
      );
      const before = finished(sim!);
      assertEquals((await chat(restarted, "after-restart")).status, 200);
      assertEquals(finished(sim!), before + 1);
    } finally {
      await cluster.close();
    }
  });
});
