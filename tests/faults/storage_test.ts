/**
 * The KV file's disk full under a real `main.ts serve`: its state dir on a 1 MiB tmpfs, filled by
 * another file. Writes get 503 `storage_unavailable`, reads and plain completions are served, and
 * once space returns the data is intact and writes succeed again, without a restart. Needs root
 * (mount); without it the test fails and says so.
 *
 * Its file system turning read-only under the running gateway: Linux refuses to remount a file
 * system read-only while a file on it is open for writing, so strace attaches to the gateway and
 * makes every write and sync of the file fail with EROFS, as a file system the kernel remounted
 * read-only after an error does, until it detaches. Needs root (ptrace) and strace.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { startSimulator } from "../../sim/mod.ts";
import { waitFor } from "../../actors/runtime/testdata/wait.ts";
import { GatewayProcess, MODEL, type TurnView } from "../sessions_testing.ts";

function run(cmd: string, args: string[]): void {
  const out = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).outputSync();
  if (!out.success) {
    throw new Error(
      `\`${cmd} ${args.join(" ")}\` failed (${new TextDecoder().decode(out.stderr).trim()}): ` +
        "this test needs root and a kernel that lets it mount a tmpfs",
    );
  }
}

/** Fills the file system of `dir` with `dir/filler` until it is full. */
async function fill(dir: string): Promise<void> {
  const file = await Deno.open(`${dir}/filler`, { write: true, create: true, append: true });
  try {
    for (;;) await file.write(new Uint8Array(16 * 1024));
  } catch (error) {
    assert(/No space left/.test(String(error)), String(error));
  } finally {
    file.close();
  }
}

/** A gateway on `stateDir` in front of `simUrl`, with one session that has one turn (`before`: its history). */
async function startWithOneTurn(
  dir: string,
  stateDir: string,
  simUrl: string,
  label: string,
): Promise<{ gateway: GatewayProcess; id: string; before: TurnView[] }> {
  const configPath = `${dir}/turnpike.json`;
  await Deno.writeTextFile(
    configPath,
    JSON.stringify({
      proxy: { health_check_interval: 0.5 },
      models: [{ name: MODEL, endpoints: [simUrl] }],
      state_dir: stateDir,
    }),
  );
  const gateway = await GatewayProcess.start({ configPath, stateDir, label });
  const id = await gateway.createSession();
  const first = await gateway.client(id).chat.completions.create({
    model: MODEL,
    messages: [{ role: "user", content: "before the store refused writes" }],
    max_tokens: 8,
  });
  assertEquals(first.choices.length, 1);
  const before = await gateway.history(id);
  assertEquals(before.length, 1);
  return { gateway, id, before };
}

/**
 * With the KV file refusing writes: creating a session and a session turn get 503
 * `storage_unavailable` (nothing half-kept), while the session, its history (`before`) and plain
 * completions that write nothing are served.
 */
async function refusesWritesServesReads(
  gateway: GatewayProcess,
  id: string,
  before: unknown[],
): Promise<void> {
  const refused = await gateway.call("POST", "/v1/sessions", { model: MODEL, system: "x" });
  assertEquals(
    [refused.status, refused.code],
    [503, "storage_unavailable"],
    JSON.stringify(refused.body),
  );
  assertEquals((refused.body.error as { type: string }).type, "server_error");
  const turnRefused = await gateway.call("POST", `/v1/sessions/${id}/chat`, {
    messages: [{ role: "user", content: "while the store refuses writes" }],
    max_tokens: 8,
  });
  assertEquals(
    [turnRefused.status, turnRefused.code],
    [503, "storage_unavailable"],
    JSON.stringify(turnRefused.body),
  );
  const view = await gateway.call("GET", `/v1/sessions/${id}`);
  assertEquals([view.status, view.body.turns], [200, 1]);
  assertEquals(await gateway.history(id), before);
  const plain = await gateway.call("POST", "/v1/chat/completions", {
    model: MODEL,
    messages: [{ role: "user", content: "no session" }],
    max_tokens: 4,
  });
  assertEquals(plain.status, 200);
}

/** Once the store takes writes again: a session is created and a turn kept after `before`'s. */
async function writesAgain(gateway: GatewayProcess, id: string, before: unknown[]): Promise<void> {
  const again = await gateway.call("POST", "/v1/sessions", { model: MODEL, system: "x" });
  assertEquals(again.status, 201, JSON.stringify(again.body));
  const turn = await gateway.client(id).chat.completions.create({
    model: MODEL,
    messages: [{ role: "user", content: "after the store took writes again" }],
    max_tokens: 8,
  });
  const after = await gateway.history(id);
  assertEquals(after.length, 2);
  assertEquals(after[0], before[0]);
  assertEquals(after[1]!.output[0]?.content, turn.choices[0]?.message.content);
}

Deno.test("a full disk under the KV file: writes get 503 storage_unavailable, reads still work, and writes work again once space returns", async () => {
  const dir = await Deno.makeTempDir({ prefix: "turnpike-storage-" });
  const stateDir = `${dir}/state`;
  await Deno.mkdir(stateDir);
  run("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", stateDir]);
  const sim = await startSimulator({ timeScale: 20, tokenizer: "approx", model: MODEL });
  let gateway: GatewayProcess | undefined;
  try {
    const started = await startWithOneTurn(dir, stateDir, sim.url, "gateway on a tmpfs");
    gateway = started.gateway;
    const { id, before } = started;

    await fill(stateDir);
    await refusesWritesServesReads(gateway, id, before);

    await Deno.remove(`${stateDir}/filler`);
    await writesAgain(gateway, id, before);
  } finally {
    await gateway?.kill();
    await sim.close();
    run("umount", [stateDir]);
    await Deno.remove(dir, { recursive: true });
  }
});

/** Whether every thread of process `pid` is traced (by strace) or, with `traced` false, none is. */
function allTraced(pid: number, traced: boolean): boolean {
  for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
    let status: string;
    try {
      status = Deno.readTextFileSync(`/proc/${pid}/task/${task.name}/status`);
    } catch {
      continue; // the thread ended
    }
    const tracer = Number(/TracerPid:\s*(\d+)/.exec(status)?.[1] ?? "0");
    if ((tracer !== 0) !== traced) return false;
  }
  return true;
}

Deno.test("the KV file's file system turning read-only under a running gateway: writes get 503 storage_unavailable, reads still work, and writes work again once it is writable", async () => {
  const dir = await Deno.makeTempDir({ prefix: "turnpike-erofs-" });
  const stateDir = `${dir}/state`;
  const sim = await startSimulator({ timeScale: 20, tokenizer: "approx", model: MODEL });
  let gateway: GatewayProcess | undefined;
  let strace: Deno.ChildProcess | undefined;
  try {
    const started = await startWithOneTurn(dir, stateDir, sim.url, "gateway under strace");
    gateway = started.gateway;
    const { id, before } = started;

    const pid = gateway.pid;
    try {
      new Deno.Command("strace", { args: ["-V"], stdout: "null", stderr: "null" }).outputSync();
    } catch (error) {
      throw new Error(`this test needs strace (apt-get install strace) and root: ${error}`);
    }
    strace = new Deno.Command("strace", {
      args: [
        "-f",
        "-qq",
        "-o",
        "/dev/null",
        "-e",
        "trace=pwrite64,pwritev,pwritev2,fsync,fdatasync",
        "-e",
        "inject=pwrite64,pwritev,pwritev2,fsync,fdatasync:error=EROFS",
        "-p",
        String(pid),
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    await waitFor("strace attached", () => allTraced(pid, true), { timeoutMs: 10_000 });

    await refusesWritesServesReads(gateway, id, before);

    strace.kill("SIGINT");
    await strace.status;
    strace = undefined;
    await waitFor("strace detached", () => allTraced(pid, false), { timeoutMs: 10_000 });
    await writesAgain(gateway, id, before);
  } finally {
    if (strace !== undefined) {
      strace.kill("SIGKILL");
      await strace.status;
    }
    await gateway?.kill();
    await sim.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a state_dir on a read-only file system: serve exits 2 with an error naming state_dir, no stack trace", async () => {
  const dir = await Deno.makeTempDir({ prefix: "turnpike-readonly-" });
  const stateDir = `${dir}/state`;
  await Deno.mkdir(stateDir);
  run("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", stateDir]);
  try {
    run("mount", ["-o", "remount,ro", stateDir]);
    const configPath = `${dir}/turnpike.json`;
    await Deno.writeTextFile(configPath, JSON.stringify({ models: [], state_dir: stateDir }));
    const main = new URL("../../main.ts", import.meta.url).pathname;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", main, "serve", "--config", configPath, "--port", "0"],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(60_000),
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assertEquals(out.code, 2, stderr);
    assert(
      stderr.includes(`state_dir: the KV file "${stateDir}/turnpike.kv" cannot be written`),
      stderr,
    );
    assert(stderr.includes("read-only file system"), stderr);
    assert(!/\n\s+at /.test(stderr), `a stack trace: ${stderr}`);
  } finally {
    run("umount", [stateDir]);
    await Deno.remove(dir, { recursive: true });
  }
});
