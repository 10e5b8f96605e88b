/** Test fixture of this folder: a SessionService on a fresh KV file, closed after the test. */
import { parseConfig } from "../../config/loader.ts";
import { ActorSystem } from "../runtime/mod.ts";
import { approxTokenCounter } from "./compression/tokens.ts";
import { SessionService } from "./service.ts";
import { SessionStore } from "./store.ts";

/** Runs `fn` against a started SessionService whose config's `sessions:` is `sessionsYaml`. */
export async function withSessions(
  sessionsYaml: string,
  fn: (sessions: SessionService) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "turnpike-session-service-" });
  const config = parseConfig(
    `models: [{name: m, endpoints: ["http://127.0.0.1:1"]}]\nstate_dir: ${dir}\nsessions: ${sessionsYaml}\n`,
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
    await fn(sessions);
  } finally {
    await sessions.close();
    await system.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}
