/** `deno task keys create|list|revoke`: the API keys in the KV file of a config, managed without a running gateway. */
import {
  type Command,
  CONFIG_FLAG_USAGE,
  configFromFlags,
  numberFlag,
  parseFlags,
  UsageError,
} from "../../config/cli.ts";
import { kvPath } from "../../config/loader.ts";
import { type ApiKeyView, KeyStore, keyView } from "./api_keys.ts";
import { PRIORITY_CLASSES, type PriorityClass } from "./principal.ts";

const usage = [
  "Usage: deno task keys <create|list|revoke> [options]",
  "",
  "Manages the gateway's API keys in the KV file under the config's state_dir; gateways on that",
  "file see a change within auth.key_refresh_interval seconds.",
  "",
  "  create --name N --client C [--models a,b] [--priority high|medium|low] [--priority-header]",
  "         [--rpm N] [--tpm N] [--concurrency N]",
  "                  makes a key and prints it once (on stdout; the rest goes to stderr)",
  "  list            lists the keys, never their secrets",
  "  revoke ID       revokes a key: requests with it are refused from then on",
  "",
  "Options:",
  CONFIG_FLAG_USAGE,
  "  --name N          a label for people (create)",
  "  --client C        the client id the key's requests count against (create)",
  "  --models a,b      the models it may call (default: all)",
  "  --priority P      its priority class (default: auth.default_priority)",
  "  --priority-header let its requests choose their class by the priority header",
  "  --rpm N           requests per minute",
  "  --tpm N           prompt plus completion tokens per minute",
  "  --concurrency N   requests in flight at once",
  "  --json            print JSON (create, list)",
  "  -h, --help        show this help",
].join("\n");

function positiveFlag(value: string | boolean | undefined, flag: string): number | undefined {
  const n = numberFlag(value, flag, usage);
  if (n !== undefined && (!Number.isInteger(n) || n <= 0)) {
    throw new UsageError(`--${flag} expects a positive integer, got ${n}`, usage);
  }
  return n;
}

function required(value: string | boolean | undefined, flag: string): string {
  if (typeof value !== "string" || value.trim() === "") {
    throw new UsageError(`create needs --${flag}`, usage);
  }
  return value.trim();
}

function limitText(view: ApiKeyView): string {
  const { requests_per_minute: rpm, tokens_per_minute: tpm, max_concurrent: c } = view.limits;
  const parts = [
    ...(rpm === null ? [] : [`${rpm} rpm`]),
    ...(tpm === null ? [] : [`${tpm} tpm`]),
    ...(c === null ? [] : [`${c} concurrent`]),
  ];
  return parts.length === 0 ? "default" : parts.join(", ");
}

function modelsText(view: ApiKeyView): string {
  return view.models === "*" ? "*" : view.models.join(",");
}

/** The `keys` subcommand. */
export const keysCommand: Command = {
  name: "keys",
  summary: "create, list and revoke the gateway's API keys",
  usage,
  async run(args) {
    const { values, positionals } = parseFlags(
      args,
      {
        name: { type: "string" },
        client: { type: "string" },
        models: { type: "string" },
        priority: { type: "string" },
        "priority-header": { type: "boolean" },
        rpm: { type: "string" },
        tpm: { type: "string" },
        concurrency: { type: "string" },
        json: { type: "boolean" },
      },
      usage,
      true,
    );
    const [action, ...rest] = positionals;
    if (action !== "create" && action !== "list" && action !== "revoke") {
      throw new UsageError(
        action === undefined ? "Missing action" : `Unknown action "${action}"`,
        usage,
      );
    }
    const expected = action === "revoke" ? 1 : 0;
    if (rest.length !== expected) {
      throw new UsageError(
        rest.length < expected
          ? "revoke needs the key's ID"
          : `Unexpected argument "${rest[expected]}"`,
        usage,
      );
    }
    // Checked before the KV file is opened, so a wrong flag changes nothing.
    const grant = action === "create"
      ? {
        name: required(values.name, "name"),
        clientId: required(values.client, "client"),
        models: modelsFlag(values.models),
        priority: priorityFlag(values.priority),
        priorityHeader: values["priority-header"] === true,
        limits: {
          ...optional("requests_per_minute", positiveFlag(values.rpm, "rpm")),
          ...optional("tokens_per_minute", positiveFlag(values.tpm, "tpm")),
          ...optional("max_concurrent", positiveFlag(values.concurrency, "concurrency")),
        },
      }
      : undefined;
    const config = await configFromFlags(values);
    const kv = await Deno.openKv(kvPath(config));
    try {
      const store = new KeyStore(kv);
      if (grant) {
        const created = await store.create(grant);
        const view = keyView(created.record);
        if (values.json) {
          console.log(JSON.stringify({ key: created.key, ...view }));
        } else {
          console.error(
            `Created API key ${view.id} "${view.name}" for client ${view.client_id} ` +
              `(models: ${modelsText(view)}, priority: ${view.priority ?? "default"}, ` +
              `limits: ${limitText(view)}). It is shown only this once; store it now:`,
          );
          console.log(created.key);
        }
        if (!config.auth.enabled) {
          console.error(
            "Note: auth.enabled is false in this config, so the gateway asks no key yet",
          );
        }
        return 0;
      }
      if (action === "list") {
        const views = (await store.list()).map(keyView);
        if (values.json) console.log(JSON.stringify(views));
        else printTable(views);
        return 0;
      }
      const id = rest[0]!;
      const revoked = await store.revoke(id);
      if (!revoked) {
        console.error(
          `No API key "${id}" exists in ${kvPath(config)}; \`deno task keys list\` lists them`,
        );
        return 1;
      }
      console.log(`Revoked API key ${id} at ${revoked.revoked_at}`);
      return 0;
    } finally {
      kv.close();
    }
  },
};

function optional<K extends string>(key: K, value: number | undefined): { [P in K]?: number } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: number };
}

function modelsFlag(value: string | boolean | undefined): string[] | "*" {
  if (value === undefined) return "*";
  const models = String(value).split(",").map((m) => m.trim()).filter((m) => m !== "");
  if (models.length === 0) {
    throw new UsageError("--models expects a,b (or leave it out for all)", usage);
  }
  return models.includes("*") ? "*" : models;
}

function priorityFlag(value: string | boolean | undefined): PriorityClass | undefined {
  if (value === undefined) return undefined;
  if (!PRIORITY_CLASSES.includes(value as PriorityClass)) {
    throw new UsageError(
      `--priority expects one of ${PRIORITY_CLASSES.join(", ")}, got "${String(value)}"`,
      usage,
    );
  }
  return value as PriorityClass;
}

function printTable(views: ApiKeyView[]): void {
  if (views.length === 0) {
    console.log("No API keys yet: `deno task keys create --name N --client C` makes one");
    return;
  }
  const rows = views.map((v) => [
    v.id,
    v.name,
    v.client_id,
    modelsText(v),
    v.priority ?? "default",
    v.priority_header ? "yes" : "no",
    limitText(v),
    v.created_at,
    v.revoked_at ?? "active",
  ]);
  const head = [
    "ID",
    "NAME",
    "CLIENT",
    "MODELS",
    "PRIORITY",
    "HEADER",
    "LIMITS",
    "CREATED",
    "STATUS",
  ];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const row of [head, ...rows]) {
    console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd());
  }
}
