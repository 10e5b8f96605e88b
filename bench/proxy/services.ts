/** The processes `bench proxy` measures: services pinned to a CPU that print their port, and nginx. */
import { join } from "node:path";
import { freePort } from "../../cluster/mod.ts";

const decoder = new TextDecoder();
const ROOT = new URL("../..", import.meta.url).pathname;

/** `argv` pinned to `cpu` with taskset, when it is installed. */
export function pinned(cpu: string, argv: string[]): string[] {
  try {
    new Deno.Command("taskset", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync();
    return ["taskset", "-c", cpu, ...argv];
  } catch {
    return argv;
  }
}

/** A child process that prints `listening PORT` once it serves. */
export interface Service {
  port: number;
  stop(): Promise<void>;
}

/** Starts the zero-latency OpenAI backend (`bench/proxy/upstream.ts`) pinned to CPU `cpu`. */
export function startZeroLatencyBackend(cpu = "0"): Promise<Service> {
  const argv = [Deno.execPath(), "run", "-A", join(ROOT, "bench/proxy/upstream.ts"), "--port=0"];
  return startService(pinned(cpu, argv), "the zero-latency backend");
}

/**
 * Runs the Deno script `script` (a path from the repository root) with `args`, pinned to CPU
 * `cpu`, and answers the JSON it prints; throws with `label` when it fails.
 */
export async function runJsonScript<T>(
  cpu: string,
  script: string,
  args: string[],
  label: string,
): Promise<T> {
  const argv = pinned(cpu, [Deno.execPath(), "run", "-A", join(ROOT, script), ...args]);
  const out = await new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`${label} failed`);
  return JSON.parse(decoder.decode(out.stdout)) as T;
}

/** Starts `argv` and resolves once it prints the port it listens on. */
export async function startService(argv: string[], label: string): Promise<Service> {
  const child = new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    stdout: "piped",
    stderr: "inherit",
    cwd: ROOT,
  }).spawn();
  const reader = child.stdout.getReader();
  let text = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`${label} exited before it listened; its output: ${text}`);
    text += decoder.decode(value);
    const match = /listening (\d+)/.exec(text) ?? /http:\/\/127\.0\.0\.1:(\d+)/.exec(text);
    if (match) {
      // Keep draining its output so it never blocks on a full pipe.
      (async () => {
        while (!(await reader.read().catch(() => ({ done: true }))).done) { /* drain */ }
      })();
      return {
        port: Number(match[1]),
        async stop() {
          try {
            child.kill("SIGTERM");
          } catch { /* already gone */ }
          await child.status;
        },
      };
    }
  }
}

/** Polls `url` until `check` accepts its answer; throws after `timeoutMs`. */
export async function waitHttp(
  url: string,
  check: (res: Response, text: string) => boolean,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      const text = await res.text();
      if (check(res, text)) return;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not become ready within ${timeoutMs} ms`);
}

/** The nginx binary, installed with apt-get when missing; undefined when it cannot be had. */
export async function ensureNginx(): Promise<string | undefined> {
  const which = (name: string) => {
    for (const dir of ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"]) {
      try {
        Deno.statSync(join(dir, name));
        return join(dir, name);
      } catch { /* next */ }
    }
    return undefined;
  };
  const found = which("nginx");
  if (found) return found;
  console.error("nginx is missing: installing it with apt-get (Debian package)");
  for (const args of [["update", "-qq"], ["install", "-y", "-qq", "nginx-light"]]) {
    const out = await new Deno.Command("apt-get", {
      args,
      env: { DEBIAN_FRONTEND: "noninteractive" },
      stdout: "null",
      stderr: "piped",
    }).output().catch(() => undefined);
    if (!out?.success) {
      console.error(
        `apt-get ${args.join(" ")} failed: ${
          out ? decoder.decode(out.stderr).trim() : "apt-get not found"
        }`,
      );
      return undefined;
    }
  }
  return which("nginx");
}

/** Starts nginx in `dir` as a reverse proxy to `upstreamPort`. */
export async function startNginx(
  nginx: string,
  upstreamPort: number,
  dir: string,
): Promise<Service> {
  const port = freePort();
  const conf = `
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream backend { server 127.0.0.1:${upstreamPort}; keepalive 512; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
`;
  const confPath = join(dir, "nginx.conf");
  await Deno.writeTextFile(confPath, conf);
  const child = new Deno.Command("taskset", {
    args: ["-c", "0", nginx, "-c", confPath, "-p", dir, "-g", "user root;"],
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  await waitHttp(`http://127.0.0.1:${port}/health`, (res) => res.status === 200, 10_000);
  return {
    port,
    async stop() {
      try {
        child.kill("SIGQUIT");
      } catch { /* gone */ }
      await child.status;
    },
  };
}

/** One load run from CPU 1; with several URLs each client sends to them in turn. */
