/** Test helpers of the gateway: simulated replicas, an echo upstream and a gateway on ephemeral ports. */
import OpenAI from "openai";
import { type Config, ConfigSchema } from "../config/mod.ts";
import { type SimServer, type SimulatorOptions, startSimulator } from "../sim/mod.ts";
import { type Gateway, startGateway } from "./gateway.ts";

/** The simulator's model name. */
export const MODEL = "llama-3.1-8b-sim";

/** A gateway over simulated replicas, with an openai client pointed at it. */
export interface TestRig {
  gateway: Gateway;
  /** The gateway's config: another gateway started with it shares the KV file. */
  config: Config;
  sims: SimServer[];
  client: OpenAI;
  /**
   * Closes the gateway and starts a new one on the same config and KV file, as a restart does;
   * `gateway` and `client` then point at the new one, which serves `sims` (all by default).
   */
  restart(options?: { sims?: SimServer[] }): Promise<void>;
  close(): Promise<void>;
}

/** Options of {@linkcode startRig}. */
export interface RigOptions {
  /** Simulated replicas to start. @default 2 */
  replicas?: number;
  /** Options of every replica. */
  sim?: SimulatorOptions;
  /** `proxy:` overrides. */
  proxy?: Record<string, unknown>;
  /** `headers:` overrides. */
  headers?: Record<string, string>;
  /** Extra `models:` entries. */
  models?: Record<string, unknown>[];
  /** Whether the simulated replicas are listed as the model's endpoints. @default true */
  listSims?: boolean;
  /** `sessions:` overrides (limits, compression defaults). */
  sessions?: Record<string, unknown>;
  /** `admission:` overrides (caps, queue, weights, shedding). */
  admission?: Record<string, unknown>;
  /** Settings of the simulated model's `models:` entry (e.g. `scheduling_policy`). */
  model?: Record<string, unknown>;
  /** `auth:` settings (off by default). */
  auth?: Record<string, unknown>;
  /** `limits:` (rate, token and concurrency limits). */
  limits?: Record<string, unknown>;
  /** `logging:` settings; the access log is off unless asked for, so test output stays readable. */
  logging?: Record<string, unknown>;
  /** `slo:` (objectives per model, evaluation interval, canary rules). */
  slo?: Record<string, unknown>;
}

/** Starts simulated replicas on port 0 and a gateway over them on port 0, with a KV file in a temp dir. */
export async function startRig(options: RigOptions = {}): Promise<TestRig> {
  const dir = await Deno.makeTempDir({ prefix: "turnpike-gateway-test-" });
  const sims: SimServer[] = [];
  for (let i = 0; i < (options.replicas ?? 2); i++) {
    sims.push(
      await startSimulator({
        port: 0,
        timeScale: 20,
        tokenizer: "approx",
        seed: i,
        ...options.sim,
      }),
    );
  }
  const models = [...(options.models ?? [])];
  if ((options.listSims ?? true) && sims.length > 0) {
    models.unshift({
      name: MODEL,
      endpoints: sims.map((s) => s.url),
      ...options.model,
    });
  }
  const raw = {
    proxy: { health_check_interval: 30, metrics_scrape_interval: 0.2, ...options.proxy },
    models,
    headers: options.headers ?? {},
    ...(options.sessions ? { sessions: options.sessions } : {}),
    ...(options.admission ? { admission: options.admission } : {}),
    ...(options.auth ? { auth: options.auth } : {}),
    ...(options.limits ? { limits: options.limits } : {}),
    ...(options.slo ? { slo: options.slo } : {}),
    logging: { access_log: false, ...options.logging },
    state_dir: dir,
  };
  const config = ConfigSchema.parse(raw);
  const clientOf = (gateway: Gateway) =>
    new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: "test", maxRetries: 0, timeout: 20_000 });
  const gateway = await startGateway(config, { port: 0, hostname: "127.0.0.1" });
  const rig: TestRig = {
    gateway,
    config,
    sims,
    client: clientOf(gateway),
    async restart(restart = {}) {
      await rig.gateway.close({ deadlineMs: 2_000 });
      const served = restart.sims;
      const next = served === undefined ? config : ConfigSchema.parse({
        ...raw,
        models: [{ name: MODEL, endpoints: served.map((s) => s.url) }, ...(options.models ?? [])],
      });
      rig.gateway = await startGateway(next, { port: 0, hostname: "127.0.0.1" });
      rig.client = clientOf(rig.gateway);
    },
    async close() {
      await rig.gateway.close({ deadlineMs: 2_000 });
      await Promise.all(sims.map((s) => s.close()));
      await Deno.remove(dir, { recursive: true });
    },
  };
  return rig;
}

/** What an echo upstream saw of one request. */
export interface EchoSeen {
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** A real HTTP server that answers like a replica and keeps what it was sent. */
export interface EchoUpstream {
  url: string;
  seen: EchoSeen[];
  close(): Promise<void>;
}

/** Starts an upstream on port 0 that answers `/health` and echoes every POST's body back as JSON. */
export function startEchoUpstream(): Promise<EchoUpstream> {
  const seen: EchoSeen[] = [];
  const ready = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: (addr) => ready.resolve(addr),
  }, async (req) => {
    const path = new URL(req.url).pathname;
    if (req.method === "GET") {
      return new Response(path === "/health" ? "" : "not found", {
        status: path === "/health" ? 200 : 404,
      });
    }
    const body = await req.text();
    seen.push({ path, headers: Object.fromEntries(req.headers), body });
    return new Response(body, {
      headers: { "content-type": "application/json", "x-upstream": "echo" },
    });
  });
  return ready.promise.then((addr) => ({
    url: `http://127.0.0.1:${addr.port}`,
    seen,
    close: () => server.shutdown(),
  }));
}

export { waitFor } from "../actors/runtime/testdata/wait.ts";

/** A chat request body with `content` as the only user message. */
export function chat(content: string, extra: Record<string, unknown> = {}) {
  return { model: MODEL, messages: [{ role: "user" as const, content }], max_tokens: 8, ...extra };
}
