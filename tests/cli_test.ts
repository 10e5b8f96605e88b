import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { commands } from "../main.ts";
import { loadConfig } from "../config/mod.ts";

const root = fileURLToPath(new URL("..", import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `main.ts` as a real process, with the config environment variables unset unless given. */
async function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts", ...args],
    cwd: root,
    env: { NO_COLOR: "1", TURNPIKE_PORT: "", TURNPIKE_STATE_DIR: "", ...env },
    stdin: "null",
  }).output();
  const text = new TextDecoder();
  return {
    code: output.code,
    stdout: text.decode(output.stdout),
    stderr: text.decode(output.stderr),
  };
}

async function withFile(text: string, fn: (path: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/turnpike.yaml`;
    await Deno.writeTextFile(path, text);
    await fn(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function assertNoStackTrace(run: Run): void {
  assert.doesNotMatch(run.stderr, /^\s+at /m, "no stack trace");
  assert.doesNotMatch(run.stderr, /Uncaught/);
}

Deno.test("main.ts without a command prints the usage to stderr and exits 2", async () => {
  const run = await cli([]);
  assert.equal(run.code, 2, run.stderr);
  assert.equal(run.stdout, "");
  assert.match(run.stderr, /^Usage: deno run -A main\.ts <command>/);
  for (const command of commands) assert.match(run.stderr, new RegExp(`\\n  ${command.name} `));
});

Deno.test("main.ts --help prints the usage to stdout and exits 0", async () => {
  const run = await cli(["--help"]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^Usage: deno run -A main\.ts <command>/);
});

Deno.test("main.ts with an unknown command names it, prints the usage and exits 2", async () => {
  const run = await cli(["frobnicate"]);
  assert.equal(run.code, 2, run.stderr);
  assert.match(run.stderr, /^Unknown command "frobnicate"\n\nUsage: /);
});

Deno.test("--help on every registered command prints its usage and exits 0", async () => {
  const runs = await Promise.all(commands.map((c) => cli([c.name, "--help"])));
  commands.forEach((command, i) => {
    assert.equal(runs[i]!.code, 0, `${command.name}: ${runs[i]!.stderr}`);
    assert.equal(runs[i]!.stdout.trimEnd(), command.usage.trimEnd(), command.name);
  });
});

Deno.test("an unknown flag on a command prints that command's usage and exits 2", async (t) => {
  for (const command of commands) {
    await t.step({
      name: `main.ts ${command.name} --no-such-flag`,
      fn: async () => {
        const run = await cli([command.name, "--no-such-flag"]);
        assert.equal(run.code, 2, run.stderr);
        assert.ok(run.stderr.includes(command.usage.split("\n")[0]!), run.stderr);
        assertNoStackTrace(run);
      },
    });
  }
});

Deno.test("config check prints a valid file normalised, as YAML that loads to the same config", async () => {
  const example = `${root}config/example.yaml`;
  const [byFile, byFlag] = await Promise.all([
    cli(["config", "check", "config/example.yaml"]),
    cli(["config", "check", "--config", "config/example.yaml"]),
  ]);
  assert.equal(byFile.code, 0, byFile.stderr);
  assert.equal(byFlag.code, 0, byFlag.stderr);
  assert.match(byFile.stdout, /^# "config\/example\.yaml" is valid\./);
  assert.deepEqual(parse(byFile.stdout), await loadConfig(example, { env: {} }));
  assert.deepEqual(parse(byFlag.stdout), parse(byFile.stdout));
});

Deno.test("config check lists every problem with its path and a did-you-mean hint, exit 2", async () => {
  await withFile(
    `proxy:
  prot: 5800
models:
  - {name: a, model_path: org/a}
  - {name: b, model_path: org/b, base_port: 6000, replicas: two}
`,
    async (path) => {
      const run = await cli(["config", "check", path]);
      assert.equal(run.code, 2, run.stderr);
      assert.equal(run.stdout, "");
      assert.equal(
        run.stderr,
        `Cannot load config "${path}":\n` +
          '  proxy.prot: unknown key, did you mean "port"?\n' +
          '  models[1].replicas: expected a positive integer, got "two"\n',
      );
    },
  );
});

Deno.test("config check names the line and column of a YAML syntax error", async () => {
  await withFile("proxy:\n  port: 5800\n bad: 1\n", async (path) => {
    const run = await cli(["config", "check", path]);
    assert.equal(run.code, 2, run.stderr);
    assert.equal(
      run.stderr,
      `Cannot load config "${path}":\n` +
        "  line 3, column 1: All mapping items must start at the same column\n",
    );
  });
});

Deno.test("config check applies TURNPIKE_PORT and reports a bad one", async () => {
  await withFile("proxy: {port: 5800}\n", async (path) => {
    const [good, bad] = await Promise.all([
      cli(["config", "check", path], { TURNPIKE_PORT: "7100", TURNPIKE_STATE_DIR: "/tmp/tp" }),
      cli(["config", "check", path], { TURNPIKE_PORT: "seventy" }),
    ]);
    assert.equal(good.code, 0, good.stderr);
    const config = parse(good.stdout);
    assert.equal(config.proxy.port, 7100);
    assert.equal(config.state_dir, "/tmp/tp");
    assert.equal(bad.code, 2, bad.stderr);
    assert.equal(
      bad.stderr,
      `Cannot load config "${path}":\n  TURNPIKE_PORT (environment): expected an integer from ` +
        '1 to 65535, got "seventy"; fix or unset it\n',
    );
  });
});

Deno.test("config check reports a missing file without a stack trace", async () => {
  const run = await cli(["config", "check", "/nonexistent/turnpike.yaml"]);
  assert.equal(run.code, 2, run.stderr);
  assert.match(
    run.stderr,
    /^Cannot load config "\/nonexistent\/turnpike\.yaml":\n {2}file not found/,
  );
  assertNoStackTrace(run);
});

Deno.test("config without an action, or with FILE and --config both, is a usage error", async () => {
  const [none, both, extra] = await Promise.all([
    cli(["config"]),
    cli(["config", "check", "a.yaml", "--config", "b.yaml"]),
    cli(["config", "check", "a.yaml", "b.yaml"]),
  ]);
  for (const run of [none, both, extra]) {
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /\n\nUsage: deno run -A main\.ts config check/);
  }
  assert.match(none.stderr, /^Missing action/);
  assert.match(both.stderr, /^Give the file either as FILE or as --config, not both/);
  assert.match(extra.stderr, /^Unexpected argument "b\.yaml"/);
});
