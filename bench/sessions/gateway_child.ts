/**
 * A gateway process for the sessions benchmark's memory target: the gateway alone, started from a
 * config file, that on each `measure` line of stdin collects garbage and prints its own memory.
 * Run it with `--v8-flags=--expose-gc` so the heap figure is what is retained, not what is garbage.
 */
import { parseArgs } from "node:util";
import { loadConfig } from "../../config/mod.ts";
import { startGateway } from "../../gateway/mod.ts";
import { SESSION_KIND } from "../../actors/session/session_actor.ts";

/** One reading of the gateway process's memory, in bytes. */
export interface MemoryReading {
  rssBytes: number;
  heapUsedBytes: number;
  heapTotalBytes: number;
  externalBytes: number;
  /** SessionActors in memory (0 once every session has passivated). */
  sessionActors: number;
}

/** Collects garbage until the heap stops shrinking, then reads the process's memory. */
async function settledReading(countActors: () => number): Promise<MemoryReading> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("Run the gateway child with --v8-flags=--expose-gc");
  let last = Infinity;
  for (let i = 0; i < 10; i++) {
    gc();
    // A turn of the event loop lets finalizers and weak callbacks run between collections.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const used = Deno.memoryUsage().heapUsed;
    if (used >= last * 0.999) break;
    last = used;
  }
  const usage = Deno.memoryUsage();
  return {
    rssBytes: usage.rss,
    heapUsedBytes: usage.heapUsed,
    heapTotalBytes: usage.heapTotal,
    externalBytes: usage.external,
    sessionActors: countActors(),
  };
}

if (import.meta.main) {
  const { values } = parseArgs({ args: Deno.args, options: { config: { type: "string" } } });
  const config = await loadConfig(values.config);
  const gateway = await startGateway(config, { hostname: "127.0.0.1", port: 0 });
  console.log(`listening ${gateway.port}`);
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of Deno.stdin.readable) {
    buffered += decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
      if (line === "measure") {
        const reading = await settledReading(() => gateway.system.countOf(SESSION_KIND));
        console.log(JSON.stringify(reading));
      }
    }
  }
  await gateway.close({ deadlineMs: 2_000 });
}
