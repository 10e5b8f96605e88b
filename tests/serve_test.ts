/** `deno task serve` as a real process with the embedded default: two simulated replicas, used with the openai client. */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import OpenAI from "openai";
import { waitFor } from "../actors/runtime/testdata/wait.ts";
import { readUntil } from "./process_output.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

async function waitHealthy(url: string, count: number, timeoutMs: number): Promise<void> {
  await waitFor(`serve to get ${count} healthy replicas`, async () => {
    const body = await (await fetch(`${url}/v1/models`)).json();
    return body.data[0]?.turnpike?.healthy === count;
  }, { timeoutMs, everyMs: 100 });
}

/** A `serve` process with the embedded default, as a test drives it. */
interface ServeRun {
  /** Its standard output. */
  reader: ReadableStreamDefaultReader<Uint8Array>;
  /** Its TURNPIKE_STATE_DIR. */
  stateDir: string;
  /** Sends `signal` and waits for the exit. */
  stop(signal: Deno.Signal): Promise<Deno.CommandStatus>;
}

/** Runs `fn` with `serve --port 0` started on a fresh state dir; kills and cleans up after. */
async function withServe(fn: (run: ServeRun) => Promise<void>): Promise<void> {
  const stateDir = await Deno.makeTempDir({ prefix: "turnpike-serve-test-" });
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "serve", "--port", "0"],
    env: { TURNPIKE_STATE_DIR: stateDir },
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.getReader();
  let exited = false;
  try {
    await fn({
      reader,
      stateDir,
      async stop(signal) {
        child.kill(signal);
        const status = await child.status;
        exited = true;
        return status;
      },
    });
  } finally {
    if (!exited) {
      child.kill("SIGKILL");
      await child.status;
    }
    await reader.cancel();
    await Deno.remove(stateDir, { recursive: true });
  }
}

Deno.test("serve with no config runs two simulated replicas that the openai client can use", async () => {
  await withServe(async ({ reader, stop }) => {
    const text = await readUntil(reader, /Ready: /, 60_000);
    const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(text)?.[1];
    assert(url, text);
    await waitHealthy(url, 2, 30_000);
    assert(text.includes(`curl -s ${url}/v1/chat/completions`));
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "x", maxRetries: 0 });
    const models = await client.models.list();
    assertEquals(models.data.map((m) => m.id), ["llama-3.1-8b-sim"]);
    const answer = await client.chat.completions.create({
      model: "llama-3.1-8b-sim",
      messages: [{ role: "user", content: "Hello" }],
      max_tokens: 4,
    });
    assertEquals(answer.choices.length, 1);
    const stream = await client.chat.completions.create({
      model: "llama-3.1-8b-sim",
      messages: [{ role: "user", content: "Hello again" }],
      max_tokens: 4,
      stream: true,
    });
    let chunks = 0;
    for await (const _ of stream) chunks++;
    assert(chunks >= 2);
    const backends = (await (await fetch(`${url}/api/backends`)).json()).backends as {
      url: string;
      source: string;
    }[];
    assertEquals(backends.map((b) => b.source), ["launched", "launched"]);

    const status = await stop("SIGTERM");
    assertEquals(status.code, 0);
    for (const backend of backends) {
      const alive = await fetch(`${backend.url}/health`).then(
        (r) => r.body?.cancel().then(() => true),
        () => false,
      );
      assertEquals(alive, false, `replica ${backend.url} outlived serve`);
    }
  });
});

/** Pids of live processes whose command line contains `needle`. */
async function processesWith(needle: string): Promise<number[]> {
  const pids: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const cmdline = (await Deno.readTextFile(`/proc/${entry.name}/cmdline`)).replaceAll(
        "\0",
        " ",
      );
      const stat = await Deno.readTextFile(`/proc/${entry.name}/stat`);
      // A zombie (state Z) has exited already; only its parent has not reaped it yet.
      if (cmdline.includes(needle) && !/^\d+ \(.*\) Z/.test(stat)) pids.push(Number(entry.name));
    } catch {
      // Gone while we looked.
    }
  }
  return pids;
}

Deno.test("serve stopped while its replicas are still starting leaves no replica running", async () => {
  await withServe(async ({ reader, stateDir, stop }) => {
    await readUntil(reader, /listening on /, 60_000);
    // Each replica's log is created when it is spawned and is named by its port.
    let logs: string[] = [];
    const deadline = Date.now() + 30_000;
    while (logs.length < 2 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      logs = await Array.fromAsync(Deno.readDir(`${stateDir}/logs`)).then(
        (entries) => entries.map((e) => e.name),
        () => [],
      );
    }
    assertEquals(logs.length, 2, `replica logs: ${logs.join(", ")}`);
    const status = await stop("SIGINT");
    assertEquals(status.code, 0);
    for (const log of logs) {
      const port = /-(\d+)\.log$/.exec(log)?.[1];
      assert(port, log);
      assertEquals(
        await processesWith(`sim --port ${port}`),
        [],
        `replica on ${port} outlived serve`,
      );
    }
  });
});
