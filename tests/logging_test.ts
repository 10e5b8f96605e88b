/** `serve` as a real process with auth on: its stderr is JSON lines with an access log, and no key, token or prompt in it unless `log_prompts: true`. */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import OpenAI from "openai";
import { MODEL } from "../gateway/testing.ts";
import { startSimulator } from "../sim/mod.ts";
import { killGroup, spawnCli } from "./cli_run.ts";
import { readUntil } from "./process_output.ts";

const ADMIN_KEY = "admin-secret-7c1e5b90d4a2f388";
const PROMPT = "prompt-text-b51f0e2d: tell me the launch codes";
const WRONG_KEY = "tp-00000000deadbeef-wrongsecret9f3a";

/** What one `serve` run printed on stderr, and the ids and keys it saw. */
interface ServeLog {
  stderr: string;
  requestIds: string[];
  apiKey: string;
}

/**
 * Starts `serve` in its own process group on a config with auth on over one simulated replica,
 * sends requests carrying keys, tokens and a prompt, stops it with SIGTERM, and returns its stderr.
 */
async function serveAndLog(
  logging: string,
  env: Record<string, string> = {},
): Promise<ServeLog> {
  const sim = await startSimulator({ port: 0, timeScale: 20, tokenizer: "approx", seed: 3 });
  const dir = await Deno.makeTempDir({ prefix: "turnpike-logging-test-" });
  const file = `${dir}/turnpike.yaml`;
  await Deno.writeTextFile(
    file,
    [
      "proxy: { health_check_interval: 30 }",
      `models: [{ name: ${MODEL}, endpoints: ["${sim.url}"] }]`,
      "auth: { enabled: true, admin_key_env: TP_TEST_ADMIN_KEY }",
      `logging: ${logging}`,
      `state_dir: ${dir}/state`,
    ].join("\n"),
  );
  const child = spawnCli(["serve", "--config", file, "--port", "0"], {
    env: { TP_TEST_ADMIN_KEY: ADMIN_KEY, ...env },
  });
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.getReader();
  let exited = false;
  try {
    const printed = await readUntil(reader, /listening on http:\/\/\S+/, 60_000);
    const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(printed)?.[1];
    assert(url, printed);
    const admin = { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" };
    const created = await fetch(`${url}/api/keys`, {
      method: "POST",
      headers: admin,
      body: JSON.stringify({ name: "logging", client_id: "team-log" }),
    });
    assertEquals(created.status, 201);
    const apiKey: string = (await created.json()).key;
    const requestIds: string[] = [];
    const sdk = new OpenAI({
      baseURL: `${url}/v1`,
      apiKey,
      maxRetries: 0,
      defaultHeaders: { "X-Session-ID": "sess-logging-1" },
    });
    const answer = await sdk.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: PROMPT }],
      max_tokens: 4,
    }).withResponse();
    requestIds.push(answer.response.headers.get("x-request-id")!);
    const stream = await sdk.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: PROMPT }],
      max_tokens: 4,
      stream: true,
    }).withResponse();
    for await (const _ of stream.data) { /* drain */ }
    requestIds.push(stream.response.headers.get("x-request-id")!);
    // The same key in x-api-key, a wrong key, and the admin key on an admin route.
    const viaHeader = await fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: {
        "x-api-key": apiKey,
        "content-type": "application/json",
        "X-Session-ID": "sess-logging-1",
      },
      body: JSON.stringify({ model: MODEL, messages: [{ role: "user", content: PROMPT }] }),
    });
    assertEquals(viaHeader.status, 200);
    requestIds.push(viaHeader.headers.get("x-request-id")!);
    await viaHeader.body?.cancel();
    const wrong = await fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${WRONG_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ model: MODEL, messages: [{ role: "user", content: PROMPT }] }),
    });
    assertEquals(wrong.status, 401);
    await wrong.body?.cancel();
    const stats = await fetch(`${url}/api/stats`, { headers: admin });
    assertEquals(stats.status, 200);
    await stats.body?.cancel();

    Deno.kill(-child.pid, "SIGTERM");
    const status = await child.status;
    exited = true;
    assertEquals(status.code, 0, await stderr);
    return { stderr: await stderr, requestIds, apiKey };
  } finally {
    if (!exited) {
      killGroup(child.pid, "SIGKILL");
      await child.status;
    }
    await reader.cancel();
    await stderr.catch(() => "");
    await sim.close();
    await Deno.remove(dir, { recursive: true });
  }
}

function jsonLines(stderr: string): Record<string, unknown>[] {
  return stderr.split("\n").filter((l) => l.trim() !== "").map((line) => {
    try {
      return JSON.parse(line);
    } catch {
      throw new Error(`a stderr line is not JSON: ${line}`);
    }
  });
}

Deno.test("serve logs JSON lines with an access line per request, and never a key, token or prompt", async () => {
  const { stderr, requestIds, apiKey } = await serveAndLog("{ level: info }");
  const lines = jsonLines(stderr);
  for (const line of lines) {
    assert(
      typeof line["time"] === "string" && typeof line["level"] === "string",
      JSON.stringify(line),
    );
    assert(typeof line["msg"] === "string", JSON.stringify(line));
  }
  const access = lines.filter((l) => l["msg"] === "request");
  for (const id of requestIds) {
    const line = access.find((l) => l["request_id"] === id);
    assert(line, `no access line for ${id}:\n${stderr}`);
    assertEquals(line["status"], 200);
    assertEquals(line["model"], MODEL);
    assertEquals(line["session_id"], "sess-logging-1");
    assert(typeof line["backend"] === "string");
    assert(typeof line["total_ms"] === "number");
  }
  assert(lines.some((l) => /received SIGTERM, stopping/.test(String(l["msg"]))), stderr);
  const refusal = lines.find((l) => l["msg"] === "request refused by auth");
  assertEquals(refusal?.["reason"], "invalid", stderr);
  assertEquals(refusal?.["path"], "/v1/chat/completions");
  const secret = apiKey.split("-").slice(2).join("-");
  for (const leaked of [ADMIN_KEY, apiKey, secret, WRONG_KEY, "wrongsecret9f3a", "b51f0e2d"]) {
    assert(!stderr.includes(leaked), `stderr holds ${leaked}:\n${stderr}`);
  }
});

Deno.test("with logging.log_prompts the prompt is logged beside its request id, and still no key; TURNPIKE_LOG_LEVEL=warn drops both", async () => {
  const on = await serveAndLog("{ log_prompts: true }");
  const prompts = jsonLines(on.stderr).filter((l) => l["msg"] === "prompt");
  assertEquals(prompts.length, 3, on.stderr);
  assert(prompts.some((l) => l["request_id"] === on.requestIds[0]), on.stderr);
  assert(on.stderr.includes("b51f0e2d"), "the prompt is not logged");
  for (const leaked of [ADMIN_KEY, on.apiKey, WRONG_KEY]) {
    assert(!on.stderr.includes(leaked), `stderr holds ${leaked}`);
  }
  const quiet = await serveAndLog("{ log_prompts: true }", { TURNPIKE_LOG_LEVEL: "warn" });
  const infos = jsonLines(quiet.stderr).filter((l) => l["level"] === "info");
  assertEquals(infos, [], quiet.stderr);
});
