import assert from "node:assert/strict";
import { LocalShell } from "./local_shell.ts";

Deno.test("LocalShell.exec() runs argv without a shell, with stdin, and reports the exit code", async () => {
  const shell = new LocalShell({ env: { TP_TEST_VAR: "from options" } });
  try {
    const cat = await shell.exec(["cat"], { stdin: "line one\n$HOME stays\n" });
    assert.deepEqual(cat, { code: 0, stdout: "line one\n$HOME stays\n", stderr: "" });
    const env = await shell.exec(["printenv", "TP_TEST_VAR"]);
    assert.equal(env.stdout, "from options\n");
    const failed = await shell.exec(["bash", "-c", "echo out; echo err >&2; exit 3"]);
    assert.deepEqual(failed, { code: 3, stdout: "out\n", stderr: "err\n" });
    const big = "x".repeat(1 << 20);
    assert.equal((await shell.exec(["cat"], { stdin: big })).stdout.length, big.length);
    const missing = await shell.exec(["tp-no-such-command-here"]);
    assert.equal(missing.code, 127);
    assert.match(missing.stderr, /tp-no-such-command-here: command not found/);
    assert.equal(shell.where, "local");
  } finally {
    await shell.close();
  }
});

Deno.test("LocalShell.exec() ends the command when its signal aborts", async () => {
  const shell = new LocalShell();
  const controller = new AbortController();
  const started = Date.now();
  const running = shell.exec(["sleep", "60"], { signal: controller.signal });
  setTimeout(() => controller.abort(), 200);
  await assert.rejects(running);
  assert.ok(Date.now() - started < 30_000, "the sleep was ended, not waited for");
  await shell.close();
});

Deno.test("LocalShell.stream() hands output over as it arrives until the signal aborts", async () => {
  const shell = new LocalShell();
  const controller = new AbortController();
  let seen = "";
  const code = shell.stream(
    ["bash", "-c", "echo first; sleep 60; echo never"],
    (chunk) => {
      seen += chunk;
      if (seen.includes("first\n")) controller.abort();
    },
    { signal: controller.signal },
  );
  assert.notEqual(await code, 0, "ended by the abort");
  assert.equal(seen, "first\n");
  assert.equal(await shell.stream(["printf", "a\\nb"], () => {}), 0);
  await shell.close();
});

Deno.test("LocalShell.close() ends the commands still running", async () => {
  const shell = new LocalShell();
  const running = shell.exec(["sleep", "60"]);
  await new Promise((resolve) => setTimeout(resolve, 100));
  await shell.close();
  const result = await running;
  assert.notEqual(result.code, 0);
});
