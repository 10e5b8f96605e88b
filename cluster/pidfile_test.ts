import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { pidFilePath, processStartTime, reapOrphan, writePidFile } from "./pidfile.ts";

function sleeper(): Deno.ChildProcess {
  return new Deno.Command("sleep", { args: ["30"], detached: true, stdout: "null", stderr: "null" })
    .spawn();
}

async function end(child: Deno.ChildProcess): Promise<void> {
  try {
    Deno.kill(-child.pid, "SIGKILL");
  } catch {
    // Gone already.
  }
  await child.status;
}

Deno.test("reapOrphan leaves a replica whose gateway still runs, and never signals a pid whose start time changed", async () => {
  const dir = await Deno.makeTempDir();
  const replica = sleeper();
  const owner = sleeper();
  try {
    const path = pidFilePath(dir, "m/odel", 0);
    assert(path.endsWith("m_odel-0.pid.json"));
    // Another gateway process (alive) launched it: not an orphan.
    const started = processStartTime(replica.pid)!;
    const ownerStarted = processStartTime(owner.pid)!;
    await Deno.mkdir(`${dir}/replicas`, { recursive: true });
    await Deno.writeTextFile(
      path,
      JSON.stringify({
        pid: replica.pid,
        started,
        argv: ["sleep"],
        owner: { pid: owner.pid, started: ownerStarted },
      }),
    );
    assertEquals(await reapOrphan(path, 100), undefined);
    assert(processStartTime(replica.pid) === started, "left running");
    // The same pid with another start time is another process: left alone, the file dropped.
    await Deno.writeTextFile(
      path,
      JSON.stringify({
        pid: replica.pid,
        started: "1",
        argv: ["sleep"],
        owner: { pid: 1 << 30, started: "1" },
      }),
    );
    assertEquals(await reapOrphan(path, 100), undefined);
    assert(processStartTime(replica.pid) === started, "a reused pid is not signalled");
    // This process's own record of a live replica: ended.
    await writePidFile(path, replica.pid, ["sleep", "30"]);
    assertEquals(await reapOrphan(path, 2_000), replica.pid);
    const status = await replica.status;
    assertEquals(status.success, false);
  } finally {
    await end(replica);
    await end(owner);
    await Deno.remove(dir, { recursive: true });
  }
});
