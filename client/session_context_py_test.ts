import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { MODEL, startRig, type TestRig, waitFor } from "../gateway/testing.ts";
import { TurnpikeSessions } from "./sessions.ts";

const PYTHON_DIR = new URL("./python/", import.meta.url).pathname;

interface PythonRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs python3 in client/python; a machine without python3 fails the test (CI installs it). */
async function python(args: string[], env: Record<string, string> = {}): Promise<PythonRun> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command("python3", {
      args: ["-B", ...args],
      cwd: PYTHON_DIR,
      env: { PYTHONDONTWRITEBYTECODE: "1", PYTHONPATH: PYTHON_DIR, ...env },
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error(
        "python3 is not on PATH; install Python 3.9 or newer to run the Python client's tests",
      );
    }
    throw error;
  }
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

function passed(run: PythonRun): void {
  assertEquals(run.code, 0, `python3 exited ${run.code}:\n${run.stdout}\n${run.stderr}`);
}

/** Runs example_agent.py against `rig`; its parsed summary line. */
async function runExampleAgent(
  rig: TestRig,
  args: string[],
): Promise<{ session_id: string; answers: string[] }> {
  const run = await python([
    "example_agent.py",
    "--base-url",
    rig.gateway.url,
    "--model",
    MODEL,
    ...args,
  ]);
  passed(run);
  return JSON.parse(run.stdout.trim().split("\n").at(-1)!);
}

Deno.test("python3 is installed and is Python 3.9 or newer", async () => {
  const run = await python([
    "-c",
    "import sys; print('%d.%d' % sys.version_info[:2])",
  ]);
  passed(run);
  const [major, minor] = run.stdout.trim().split(".").map(Number);
  assert(major === 3 && minor! >= 9, `python3 is ${run.stdout.trim()}; the client needs 3.9+`);
});

Deno.test("the Python SessionContext headers of each chat call reach the gateway", async () => {
  const rig = await startRig({ replicas: 1 });
  try {
    const sessionId = `py-${crypto.randomUUID()}`;
    const run = await runExampleAgent(rig, [
      "--turns",
      "3",
      "--session-id",
      sessionId,
      "--task-id",
      "py-task",
      "--client-id",
      "py-agent",
    ]);
    assertEquals([run.session_id, run.answers.length], [sessionId, 3]);
    assert(run.answers.every((a) => a.length > 0), JSON.stringify(run.answers));
    const [third, second, first] = rig.gateway.records.recent({ sessionId });
    for (const record of [first, second, third]) {
      assertEquals([record?.taskId, record?.clientId, record?.status], [
        "py-task",
        "py-agent",
        200,
      ]);
    }
    // The first call has no timing yet; each later one reports the tool run before it.
    assertEquals([first?.clientPreMs, first?.clientPostMs], [undefined, undefined]);
    for (const record of [second, third]) {
      assert((record?.clientPreMs ?? 0) >= 15, `pre ${record?.clientPreMs}`);
      assert((record?.clientPostMs ?? 0) > 0, `post ${record?.clientPostMs}`);
    }
    // The session header made a session of the plain calls, with their task and client.
    const sessions = new TurnpikeSessions({ baseURL: rig.gateway.url });
    const session = await waitFor(
      "the three recorded turns",
      () => sessions.get(sessionId).then((s) => (s.turns === 3 ? s : undefined), () => undefined),
    );
    assertEquals([session.task_id, session.client_id], ["py-task", "py-agent"]);
  } finally {
    await rig.close();
  }
});

Deno.test("a Python headers_config sends the header names the gateway is configured with", async () => {
  const names = { session: "X-Agent-Session", task: "X-Agent-Task", timing_pre: "X-Agent-Pre" };
  const rig = await startRig({ replicas: 1, headers: names });
  try {
    const run = await runExampleAgent(rig, [
      "--turns",
      "2",
      "--task-id",
      "renamed",
      "--headers-config",
      JSON.stringify(names),
    ]);
    const [second, first] = rig.gateway.records.recent({ sessionId: run.session_id });
    assertEquals([first?.taskId, second?.taskId], ["renamed", "renamed"]);
    assert((second?.clientPreMs ?? 0) > 0, `pre ${second?.clientPreMs}`);
    // The post timing kept its default name, which this gateway reads too.
    assert((second?.clientPostMs ?? 0) > 0, `post ${second?.clientPostMs}`);
  } finally {
    await rig.close();
  }
});

Deno.test("the Python unittest suite passes against a real gateway", async () => {
  const rig = await startRig({ replicas: 1 });
  try {
    const run = await python(["-m", "unittest", "-v", "test_turnpike_session"], {
      TURNPIKE_URL: rig.gateway.url,
      TURNPIKE_MODEL: MODEL,
    });
    passed(run);
    assert(/Ran \d+ tests/.test(run.stderr) && run.stderr.includes("OK"), run.stderr);
    // The SessionsClient sent its context's task and timing headers with the session turns.
    const turns = rig.gateway.records.recent().filter((r) => r.taskId === "py-sessions");
    assert(turns.some((r) => r.clientPreMs === 25 && r.clientPostMs === 3), JSON.stringify(turns));
  } finally {
    await rig.close();
  }
});
