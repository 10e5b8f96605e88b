/**
 * A launched replica's pid file under `state_dir/replicas/`: which process group it leads and when
 * that process started. Replicas run in their own process groups, so a gateway killed with -9
 * leaves them running; the next launch of the same replica finds the file, checks that the pid is
 * still that process (its start time in `/proc/<pid>/stat`, so a reused pid is never signalled),
 * and ends the orphan's group before starting a new one. Where `/proc` is missing, nothing is
 * known and nothing is signalled.
 */
import { join } from "node:path";
import { signalGroup, sleep } from "./_process.ts";

/** What a pid file holds. */
interface PidRecord {
  pid: number;
  /** Field 22 of `/proc/<pid>/stat`: the process's start time in clock ticks since boot. */
  started: string;
  argv: string[];
  /** The gateway process that launched it, and its start time. */
  owner: { pid: number; started: string };
}

/** The pid file of replica `index` of `model` under `stateDir`. */
export function pidFilePath(stateDir: string, model: string, index: number): string {
  return join(stateDir, "replicas", `${model.replace(/[^\w.-]/g, "_")}-${index}.pid.json`);
}

/** The start time of process `pid` as `/proc` gives it; undefined when it is gone or unknown. */
export function processStartTime(pid: number): string | undefined {
  let stat: string;
  try {
    stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces: count from its end.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return fields[19];
}

/** Records that `pid` (leading its own process group) runs `argv` as this replica. */
export async function writePidFile(path: string, pid: number, argv: string[]): Promise<void> {
  const started = processStartTime(pid);
  const own = processStartTime(Deno.pid);
  if (started === undefined || own === undefined) return;
  await Deno.mkdir(join(path, ".."), { recursive: true });
  const record: PidRecord = { pid, started, argv, owner: { pid: Deno.pid, started: own } };
  await Deno.writeTextFile(path, JSON.stringify(record));
}

/** Removes the pid file if it still names `pid` (a newer launch may have replaced it). */
export async function removePidFile(path: string, pid: number): Promise<void> {
  const record = await readPidFile(path);
  if (record?.pid === pid) await Deno.remove(path).catch(() => {});
}

/**
 * Ends the process group of a replica an earlier gateway left running: SIGTERM, then SIGKILL
 * after `graceMs`. Returns its pid when there was one, undefined when the file was absent, named a
 * process that is gone (or a reused pid), or a replica whose gateway still runs (another gateway
 * process on the same state_dir: its replica is not an orphan).
 */
export async function reapOrphan(path: string, graceMs = 5_000): Promise<number | undefined> {
  const record = await readPidFile(path);
  if (record === undefined) return undefined;
  const { owner } = record;
  if (owner.pid !== Deno.pid && processStartTime(owner.pid) === owner.started) return undefined;
  await Deno.remove(path).catch(() => {});
  if (processStartTime(record.pid) !== record.started) return undefined;
  signalGroup(record.pid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (processStartTime(record.pid) === record.started && Date.now() < deadline) {
    await sleep(100, Promise.withResolvers<void>().promise);
  }
  if (processStartTime(record.pid) === record.started) signalGroup(record.pid, "SIGKILL");
  return record.pid;
}

async function readPidFile(path: string): Promise<PidRecord | undefined> {
  try {
    const value: unknown = JSON.parse(await Deno.readTextFile(path));
    if (
      typeof value === "object" && value !== null && "pid" in value && "started" in value &&
      Number.isInteger(value.pid) && typeof value.started === "string" && "owner" in value &&
      typeof value.owner === "object" && value.owner !== null && "pid" in value.owner &&
      Number.isInteger(value.owner.pid) && "started" in value.owner &&
      typeof value.owner.started === "string"
    ) {
      return value as PidRecord;
    }
  } catch {
    // Missing or unreadable: nothing is known of an earlier process.
  }
  return undefined;
}
