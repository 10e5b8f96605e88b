import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

async function dash(...args: string[]): Promise<{ code: number; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "dash", ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test("deno task dash refuses bad flags with its usage and exit 2", async () => {
  const theme = await dash("--theme", "blue");
  assertEquals(theme.code, 2);
  assert(theme.stderr.startsWith('--theme must be dark or light, got "blue"'), theme.stderr);
  assert(theme.stderr.includes("Usage: deno task dash"));
  const interval = await dash("--interval", "0");
  assertEquals(interval.code, 2);
  assert(
    interval.stderr.startsWith("--interval must be from 0.2 to 60 seconds, got 0"),
    interval.stderr,
  );
  const proxy = await dash("--proxy", "ftp://x");
  assertEquals(proxy.code, 2);
  assert(proxy.stderr.startsWith('--proxy must be an http(s) URL, got "ftp://x"'), proxy.stderr);
});

Deno.test("deno task dash says it needs a terminal when stdin is not one", async () => {
  const run = await dash("--proxy", "http://127.0.0.1:9");
  assertEquals(run.code, 2);
  assert(run.stderr.includes("deno task dash needs a terminal"), run.stderr);
});
