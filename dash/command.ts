/** `deno task dash`: the terminal dashboard of a running gateway. */
import { type Command, loadConfig, numberFlag, parseFlags, UsageError } from "../config/mod.ts";
import { runDashboard } from "./tui/app.ts";
import { THEME_NAMES, type ThemeName } from "./tui/theme.ts";

const usage =
  `Usage: deno task dash [--proxy URL] [--interval 2] [--theme dark|light] [--admin-key KEY]

The terminal dashboard of a running gateway: backends (health, load, latency, KV usage, prefix
hits, sparklines of load and TTFT), the request queue, sessions, bottlenecks, SLOs and jobs.
Keys: Tab/Shift-Tab switch panel, j/k or arrows move, Enter expands a row, q or Esc quits.

Options:
  --proxy URL       the gateway (default: http://HOST:PORT of the config's proxy:)
  --interval S      seconds between polls (default 2; 0.2 to 60)
  --theme NAME      dark or light (default dark)
  --admin-key KEY   the admin key, when the gateway has auth on (default: $TURNPIKE_ADMIN_KEY)
  --config PATH     YAML config whose proxy.host and proxy.port give the default --proxy`;

/** The `dash` subcommand. */
export const dashCommand: Command = {
  name: "dash",
  summary: "terminal dashboard of a running gateway",
  usage,
  async run(args) {
    const { values } = parseFlags(args, {
      proxy: { type: "string" },
      interval: { type: "string" },
      theme: { type: "string" },
      "admin-key": { type: "string" },
    }, usage);
    const intervalS = numberFlag(values.interval, "interval", usage) ?? 2;
    if (intervalS < 0.2 || intervalS > 60) {
      throw new UsageError(`--interval must be from 0.2 to 60 seconds, got ${intervalS}`, usage);
    }
    const theme = values.theme ?? "dark";
    if (!(THEME_NAMES as readonly string[]).includes(theme)) {
      throw new UsageError(`--theme must be dark or light, got "${theme}"`, usage);
    }
    let proxyUrl = values.proxy;
    if (proxyUrl === undefined) {
      const { proxy } = await loadConfig(values.config);
      const host = proxy.host === "0.0.0.0" || proxy.host === "::" ? "127.0.0.1" : proxy.host;
      proxyUrl = `http://${host.includes(":") ? `[${host}]` : host}:${proxy.port}`;
    } else if (!URL.canParse(proxyUrl) || !/^https?:$/.test(new URL(proxyUrl).protocol)) {
      throw new UsageError(`--proxy must be an http(s) URL, got "${proxyUrl}"`, usage);
    }
    const adminKey = values["admin-key"] ?? Deno.env.get("TURNPIKE_ADMIN_KEY");
    return await runDashboard({
      proxyUrl,
      intervalMs: intervalS * 1000,
      theme: theme as ThemeName,
      ...(adminKey ? { adminKey } : {}),
    });
  },
};
