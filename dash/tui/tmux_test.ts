/**
 * `deno task dash` in a real terminal (tmux) against a real `serve` with traffic: panels, keys,
 * the gateway killed and restarted, and the terminal given back in cooked mode on q and on SIGTERM.
 */
import { ok as assert } from "node:assert/strict";
import { waitFor } from "../../actors/runtime/testdata/wait.ts";
import { startServe, startTraffic } from "../_testing.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** A tmux server of this test's own (its own socket), so nothing else's sessions are touched. */
class Tmux {
  readonly socket = `turnpike-dash-test-${crypto.randomUUID().slice(0, 8)}`;

  async run(...args: string[]): Promise<string> {
    const out = await new Deno.Command("tmux", {
      args: ["-L", this.socket, ...args],
      stdout: "piped",
      stderr: "piped",
    })
      .output();
    if (!out.success) {
      throw new Error(`tmux ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
    }
    return new TextDecoder().decode(out.stdout);
  }

  screen(): Promise<string> {
    return this.run("capture-pane", "-p", "-t", "dash");
  }

  keys(...keys: string[]): Promise<string> {
    return this.run("send-keys", "-t", "dash", ...keys);
  }

  /** Waits until the pane shows what `check` wants; the error shows the last screen. */
  async until(
    what: string,
    check: (screen: string) => boolean,
    timeoutMs = 60_000,
  ): Promise<string> {
    let last = "";
    try {
      return await waitFor(what, async () => {
        last = await this.screen();
        return check(last) ? last : false;
      }, { timeoutMs, everyMs: 200 });
    } catch (error) {
      throw new Error(`${(error as Error).message}; the screen:\n${last}`);
    }
  }

  /** The pid of the process the pane's shell runs in the foreground (the dashboard). */
  async childOfShell(): Promise<number> {
    const shell = (await this.run("list-panes", "-t", "dash", "-F", "#{pane_pid}")).trim();
    const children = await Deno.readTextFile(`/proc/${shell}/task/${shell}/children`);
    const pid = Number(children.trim().split(/\s+/)[0]);
    assert(pid > 0, `no child of the pane's shell ${shell}`);
    return pid;
  }

  kill(): Promise<string> {
    return this.run("kill-server").catch(() => "");
  }
}

/**
 * Runs `stty -a` in the pane's shell and checks the terminal is in cooked mode with echo. The
 * shell is dash (`sh`), which, unlike bash, does not restore the terminal after its child: a
 * terminal left raw stays raw, the line never runs, and this times out.
 */
async function assertCooked(tmux: Tmux): Promise<void> {
  await tmux.keys(
    "clear; stty -a | tr ';' '\\n' | grep -E -o -- '(^| )-?(icanon|echo)( |$)' | tr -d ' ' | sort -u | tr '\\n' ' '; echo :stty-done",
    "Enter",
  );
  const screen = await tmux.until(
    "stty -a output",
    (s) => /\n[a-z -]*:stty-done/.test(s) || /echo icanon :stty-done/.test(s),
  );
  assert(
    /(^|\s)echo icanon :stty-done/m.test(screen),
    `the terminal is not in cooked mode with echo:\n${screen}`,
  );
}

Deno.test("deno task dash in tmux: backends, Tab, j/k, Enter, disconnect and reconnect, q and SIGTERM leave a cooked terminal", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "turnpike-dash-tmux-" });
  const tmux = new Tmux();
  let serve = await startServe(stateDir);
  const traffic = startTraffic(() => serve.url);
  try {
    const backends = await waitFor("two healthy backends", async () => {
      const body = await (await fetch(`${serve.url}/api/backends`)).json();
      const healthy = (body.backends as { id: string; url: string; healthy: boolean }[]).filter((
        b,
      ) => b.healthy);
      return healthy.length === 2 ? healthy : false;
    }, { timeoutMs: 60_000, everyMs: 200 });
    await tmux.run(
      "new-session",
      "-d",
      "-s",
      "dash",
      "-x",
      "160",
      "-y",
      "48",
      "sh",
    );
    const dash = `${Deno.execPath()} run -A ${MAIN} dash --proxy ${serve.url} --interval 0.5`;
    await tmux.keys(dash, "Enter");
    await tmux.until(
      "both backends, connected",
      (s) =>
        s.includes("connected") && backends.every((b) => s.includes(b.id)) && s.includes("healthy"),
    );
    await tmux.until("traffic in the request counts", (s) => /requests [1-9]/.test(s));

    // Tab visits every panel in turn, each with the gateway's data (none of their routes is absent).
    const panels: [string, (s: string) => boolean][] = [
      ["the request queue", (s) => s.includes("admitted after wait")],
      [
        "the sessions of the traffic",
        (s) => s.includes("dash-test-0") && s.includes("last active"),
      ],
      ["the bottlenecks", (s) => /where \d+ turns' .* went over/.test(s)],
      ["the SLOs", (s) => s.includes("no model has an slo: entry") || s.includes("objective")],
      ["the jobs of the launched replicas", (s) => s.includes("local") && s.includes("phase")],
      ["the backends again", (s) => s.includes("prefix hits")],
    ];
    for (const [what, check] of panels) {
      await tmux.keys("Tab");
      await tmux.until(what, (s) => check(s) && !s.includes("is not on this gateway"));
    }
    await tmux.keys("BTab");
    await tmux.until("Shift-Tab to the jobs", (s) => s.includes("phase"));
    await tmux.keys("Tab");
    await tmux.until("the backends panel again", (s) => s.includes("prefix hits"));

    // j selects the second backend, Enter expands it (its URL shows), Enter again collapses it.
    const shown = await tmux.screen();
    const order = [...backends].sort((a, b) => shown.indexOf(a.id) - shown.indexOf(b.id));
    await tmux.keys("j", "Enter");
    await tmux.until(
      "the second backend expanded",
      (s) => s.includes(`url ${order[1]!.url}`) && !s.includes(`url ${order[0]!.url}`),
    );
    await tmux.keys("Enter");
    await tmux.until("it collapsed", (s) => !s.includes(`url ${order[1]!.url}`));
    await tmux.keys("k", "Enter");
    await tmux.until("the first backend expanded", (s) => s.includes(`url ${order[0]!.url}`));
    // The arrows move too: Down then Up is the first row again, whose Enter collapses it.
    await tmux.keys("Down", "Up", "Enter");
    await tmux.until("the first backend collapsed", (s) => !s.includes(`url ${order[0]!.url}`));

    // A smaller terminal: the frame is redrawn to its size (SIGWINCH), help line on its last row.
    await tmux.run("resize-window", "-t", "dash", "-x", "100", "-y", "30");
    await tmux.until("the frame redrawn at 100x30", (s) => {
      const lines = s.split("\n");
      return lines.length >= 30 && lines[29]!.includes("q/Esc quit") &&
        lines.every((l) => [...l].length <= 100);
    });

    await serve.stop();
    await tmux.until("disconnected", (s) => s.includes("disconnected"));
    serve = await startServe(stateDir, { port: serve.port });
    await tmux.until(
      "reconnected",
      (s) => /connected\s*$/m.test(s.split("\n")[0]!) && !s.includes("disconnected"),
      90_000,
    );

    await tmux.keys("q");
    await tmux.until("the shell back", (s) => !s.includes("turnpike dash"));
    await assertCooked(tmux);

    // SIGTERM (as a closed window or `kill` sends) also gives the terminal back.
    await tmux.keys("clear", "Enter");
    await tmux.keys(dash, "Enter");
    await tmux.until(
      "the dashboard again",
      (s) => s.includes("turnpike dash") && s.includes("connected"),
    );
    Deno.kill(await tmux.childOfShell(), "SIGTERM");
    await tmux.until("the shell back after SIGTERM", (s) => !s.includes("turnpike dash"));
    await assertCooked(tmux);
  } finally {
    await traffic.stop();
    await tmux.kill();
    await serve.stop();
    await Deno.remove(stateDir, { recursive: true });
  }
});
