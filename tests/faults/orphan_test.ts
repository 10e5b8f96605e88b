/**
 * A gateway killed with -9 leaves its launched replicas running (each leads its own process
 * group). The next `serve` on the same state_dir ends them before it launches its own, so no
 * orphan holds the replica's port or its GPU.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { freePort } from "../../cluster/ports.ts";
import { pidFilePath, processStartTime } from "../../cluster/pidfile.ts";
import { GatewayProcess, MODEL } from "../sessions_testing.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

function alive(pid: number): boolean {
  return processStartTime(pid) !== undefined;
}

async function replicaPid(stateDir: string): Promise<number> {
  const record = JSON.parse(await Deno.readTextFile(pidFilePath(stateDir, MODEL, 0)));
  return record.pid as number;
}

Deno.test("a replica left running by a gateway killed with -9 is ended by the next serve on its state_dir, which launches its own", async () => {
  const dir = await Deno.makeTempDir({ prefix: "turnpike-orphan-" });
  const stateDir = `${dir}/state`;
  const configPath = `${dir}/turnpike.json`;
  await Deno.writeTextFile(
    configPath,
    JSON.stringify({
      proxy: { health_check_interval: 0.5 },
      models: [{
        name: MODEL,
        replicas: 1,
        base_port: freePort("127.0.0.1"),
        command:
          `${Deno.execPath()} run -A ${MAIN} sim --port {port} --model {name} --tokenizer approx`,
        startup_timeout: 60,
      }],
      state_dir: stateDir,
    }),
  );
  const pids: number[] = [];
  let second: GatewayProcess | undefined;
  try {
    const first = await GatewayProcess.start({ configPath, stateDir, label: "first gateway" });
    const orphan = await replicaPid(stateDir);
    pids.push(orphan);
    // Only the gateway's own process group: its replica runs on, as after a crash.
    await first.kill("SIGKILL");
    assert(alive(orphan), "the replica outlived its gateway");

    second = await GatewayProcess.start({ configPath, stateDir, label: "second gateway" });
    const replacement = await replicaPid(stateDir);
    pids.push(replacement);
    assert(replacement !== orphan);
    assertEquals(alive(orphan), false, "the orphan was ended");
    const answer = await second.call("POST", "/v1/chat/completions", {
      model: MODEL,
      messages: [{ role: "user", content: "served by the new replica" }],
      max_tokens: 4,
    });
    assertEquals(answer.status, 200);
    assert(
      second.output.includes("ended a replica an earlier gateway left running"),
      second.output,
    );
  } finally {
    await second?.kill("SIGTERM");
    for (const pid of pids) {
      try {
        Deno.kill(-pid, "SIGKILL");
      } catch {
        // Gone already.
      }
    }
    await Deno.remove(dir, { recursive: true });
  }
});
