import assert from "node:assert/strict";
import { UsageError } from "../../config/cli.ts";
import { parseJobsArgs } from "./args.ts";
import { JOBS_USAGE, SCALE_USAGE, START_USAGE, STATUS_USAGE } from "./usage.ts";

function usageError(args: string[], message: RegExp, usage?: string): void {
  assert.throws(() => parseJobsArgs(args), (error: unknown) => {
    assert.ok(error instanceof UsageError, String(error));
    assert.match(error.message, message);
    if (usage !== undefined) assert.equal(error.usage, usage);
    return true;
  });
}

Deno.test("parseJobsArgs() answers --help for jobs itself and for each subcommand", () => {
  assert.deepEqual(parseJobsArgs(["--help"]), { command: "help", usage: JOBS_USAGE });
  assert.deepEqual(parseJobsArgs(["start", "--help"]), { command: "help", usage: START_USAGE });
  assert.deepEqual(parseJobsArgs(["status", "-h"]), { command: "help", usage: STATUS_USAGE });
  for (const sub of ["scale", "stop", "logs", "connect"]) {
    const parsed = parseJobsArgs([sub, "--help"]);
    assert.equal(parsed.command, "help");
    if (parsed.command === "help") assert.match(parsed.usage, new RegExp(`jobs ${sub}`));
  }
});

Deno.test("parseJobsArgs() reads each subcommand's flags", () => {
  assert.deepEqual(parseJobsArgs(["start", "--config", "c.yaml", "--wait", "--timeout", "90"]), {
    command: "start",
    config: "c.yaml",
    adminKey: undefined,
    wait: true,
    timeoutS: 90,
  });
  assert.deepEqual(parseJobsArgs(["status", "--json", "--admin-key", "k"]), {
    command: "status",
    config: undefined,
    adminKey: "k",
    json: true,
    watch: false,
    intervalS: 2,
  });
  assert.deepEqual(parseJobsArgs(["scale", "m", "0"]), {
    command: "scale",
    config: undefined,
    adminKey: undefined,
    model: "m",
    replicas: 0,
  });
  assert.deepEqual(parseJobsArgs(["stop"]), {
    command: "stop",
    config: undefined,
    adminKey: undefined,
    model: undefined,
    timeoutS: 300,
  });
  assert.deepEqual(parseJobsArgs(["logs", "m/1", "-f"]), {
    command: "logs",
    job: "m/1",
    follow: true,
    config: undefined,
  });
  assert.deepEqual(parseJobsArgs(["plan", "--config", "x", "--whatever"]), {
    command: "plan",
    args: ["--config", "x", "--whatever"],
  });
  assert.deepEqual(parseJobsArgs(["connect", "--port", "0"]), {
    command: "connect",
    config: undefined,
    port: 0,
    host: undefined,
    insecure: false,
  });
});

Deno.test("parseJobsArgs() refuses unknown subcommands, flags and wrong values with the usage", () => {
  usageError([], /Missing command/, JOBS_USAGE);
  usageError(["launch"], /Unknown command "launch"; one of start, status/, JOBS_USAGE);
  usageError(["start", "--bogus"], /bogus/, START_USAGE);
  usageError(["start", "extra"], /Unexpected argument "extra"/, START_USAGE);
  usageError(["start", "--timeout", "soon"], /--timeout expects a number/);
  usageError(["start", "--timeout=0"], /positive number of seconds/);
  usageError(["status", "--interval", "1"], /--interval goes with --watch/, STATUS_USAGE);
  usageError(["scale", "m"], /needs MODEL and N/, SCALE_USAGE);
  usageError(["scale", "m", "two"], /whole number of replicas.*"two"/, SCALE_USAGE);
  usageError(["scale", "m", "-1"], /-1|whole number/);
  usageError(["scale", "m", "1.5"], /whole number/);
  usageError(["stop", "a", "b"], /Unexpected argument "b"/);
  usageError(["logs"], /logs needs JOB/);
  usageError(["connect", "--port", "70000"], /0 to 65535/);
});
