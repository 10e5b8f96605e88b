/** `deno task bench proxy`: gateway overhead, direct vs turnpike vs a bare Hono forwarder vs nginx, JSON and SSE, at several concurrencies. */
import { join } from "node:path";
import { freePort } from "../cluster/mod.ts";
import { numberFlag, parseFlags } from "../config/mod.ts";
import type { BenchSuite } from "./command.ts";
import type { LoadResult } from "./proxy/load.ts";
import { medianOf } from "./sessions/verdicts.ts";
import { measurePick } from "./proxy/pick_cost.ts";
import {
  DASHBOARD_INTERVAL_S,
  type DashboardFeedStats,
  watchDashboards,
} from "./proxy/dashboards.ts";
import {
  ensureNginx,
  pinned,
  runJsonScript,
  type Service,
  startNginx,
  startService,
  startZeroLatencyBackend,
  waitHttp,
} from "./proxy/services.ts";

const usage = [
  "Usage: deno task bench proxy [options]",
  "",
  "Measures what the gateway adds: a zero-latency backend reached directly, through turnpike,",
  "through a bare Hono fetch forwarder and through nginx, at each concurrency, JSON and SSE.",
  "Backend and proxies run on CPU 0, the load generator on CPU 1 (taskset, when present).",
  "At concurrency 1 the targets take turns request by request within one run, so that noise on",
  "the machine hits them alike and their tail percentiles can be compared.",
  "",
  "Options:",
  "  --duration S        measured seconds per run [2]",
  "  --warmup S          warm-up seconds per run [0.5]",
  "  --rounds N          runs per target and setting, taking turns; medians are reported [3]",
  "  --concurrency LIST  comma-separated client counts [1,64,256]",
  "  --targets LIST      comma-separated subset of direct,turnpike,hono,nginx [all]",
  "  --compare-clients   also measure turnpike-fetch: turnpike on Deno's fetch instead of its",
  "                      own HTTP/1.1 client (proxy.upstream_client: fetch)",
  "  --strategy NAME     turnpike's proxy.strategy [prefix_aware]",
  "  --no-nginx          skip nginx (it is installed with apt-get when missing)",
  "  --scrape-metrics    also measure turnpike-scraped: a second turnpike whose GET /metrics is",
  "                      scraped every second through the run; prints both added p50s and their",
  "                      ratio (issue #14: scraping adds < 5%)",
  "  --dashboards        also measure turnpike-watched: a turnpike scraped every second that also",
  "                      has both dashboards' feeds open (the JSON endpoints deno task dash polls,",
  "                      every 2 s, and an SSE stream of /dashboard/events); prints the ratio of",
  "                      its added p50 to turnpike's (issue #14: < 5%)",
  "  --header-guard      also measure turnpike-guarded: turnpike with its connection guard on",
  "                      (proxy.header_timeout: 10, which loopback leaves off); prints what the",
  "                      guard adds to turnpike's p50 and p99 at c=1 and its throughput at c=64",
  "  --access-log        turnpike's access log on (logging.access_log; off here by default so",
  "                      figures compare with earlier runs; its lines go to stderr)",
].join("\n");

const TARGETS = [
  "direct",
  "turnpike",
  "turnpike-fetch",
  "turnpike-scraped",
  "turnpike-watched",
  "turnpike-guarded",
  "hono",
  "nginx",
] as const;
/** How often `--scrape-metrics` scrapes, in ms: Prometheus's shortest usual interval. */
const SCRAPE_EVERY_MS = 1_000;
/** Seconds of load on every target, JSON then SSE, before the first measurement. */
const JIT_WARMUP_S = 2;
type Target = typeof TARGETS[number];

/** One measured cell of the matrix. */
interface Run extends LoadResult {
  target: Target;
  mode: "json" | "sse";
  concurrency: number;
}

const encoder = new TextEncoder();
const ROOT = new URL("..", import.meta.url).pathname;

async function load(
  urls: string[],
  concurrency: number,
  stream: boolean,
  durationS: number,
  warmupS: number,
): Promise<LoadResult[]> {
  return await runJsonScript<LoadResult[]>("1", "bench/proxy/load.ts", [
    ...urls.map((url) => `--url=${url}`),
    `--concurrency=${concurrency}`,
    `--duration=${durationS}`,
    `--warmup=${warmupS}`,
    ...(stream ? ["--stream"] : []),
  ], `The load generator against ${urls.join(", ")}`);
}

/** The median of each figure over several runs of one setting (requests and errors are summed). */
function medianResult(results: LoadResult[]): LoadResult {
  const m = (pick: (r: LoadResult) => number) => medianOf(results.map(pick));
  return {
    requests: results.reduce((sum, r) => sum + r.requests, 0),
    errors: results.reduce((sum, r) => sum + r.errors, 0),
    seconds: results.reduce((sum, r) => sum + r.seconds, 0),
    rps: m((r) => r.rps),
    latencyMs: {
      p50: m((r) => r.latencyMs.p50),
      p90: m((r) => r.latencyMs.p90),
      p99: m((r) => r.latencyMs.p99),
      mean: m((r) => r.latencyMs.mean),
    },
    ttfbMs: {
      p50: m((r) => r.ttfbMs.p50),
      p90: m((r) => r.ttfbMs.p90),
      p99: m((r) => r.ttfbMs.p99),
    },
  };
}

function fmt(n: number | undefined, digits = 2): string {
  return n === undefined || Number.isNaN(n) ? "-" : n.toFixed(digits);
}

function verdicts(runs: Run[], turnpike: Target) {
  const find = (target: Target, mode: "json" | "sse", c: number) =>
    runs.find((r) => r.target === target && r.mode === mode && r.concurrency === c);
  const direct1 = find("direct", "json", 1);
  const tp1 = find(turnpike, "json", 1);
  const tp64 = find(turnpike, "json", 64);
  const hono64 = find("hono", "json", 64);
  const directSse = find("direct", "sse", 1);
  const tpSse = find(turnpike, "sse", 1);
  const addedP50 = direct1 && tp1 ? tp1.latencyMs.p50 - direct1.latencyMs.p50 : undefined;
  const addedP99 = direct1 && tp1 ? tp1.latencyMs.p99 - direct1.latencyMs.p99 : undefined;
  const ratio64 = tp64 && hono64 ? tp64.rps / hono64.rps : undefined;
  const sseTtfb = directSse && tpSse ? tpSse.ttfbMs.p50 - directSse.ttfbMs.p50 : undefined;
  return {
    addedP50Ms: addedP50,
    addedP50Met: addedP50 === undefined ? undefined : addedP50 <= 0.5,
    addedP99Ms: addedP99,
    addedP99Met: addedP99 === undefined ? undefined : addedP99 <= 2,
    throughputVsHonoAt64: ratio64,
    throughputMet: ratio64 === undefined ? undefined : ratio64 >= 0.9,
    sseTtfbAddedP50Ms: sseTtfb,
    sseTtfbMet: sseTtfb === undefined ? undefined : sseTtfb <= 1,
  };
}

/** What turnpike-guarded adds to turnpike: p50 and p99 at c=1, and its share of turnpike's rps at c=64. */
function guardVerdict(runs: Run[]) {
  const find = (target: Target, c: number) =>
    runs.find((r) => r.target === target && r.mode === "json" && r.concurrency === c);
  const [tp1, g1, tp64, g64] = [
    find("turnpike", 1),
    find("turnpike-guarded", 1),
    find("turnpike", 64),
    find("turnpike-guarded", 64),
  ];
  if (!tp1 || !g1 || !tp64 || !g64) return undefined;
  return {
    addedP50Ms: g1.latencyMs.p50 - tp1.latencyMs.p50,
    addedP99Ms: g1.latencyMs.p99 - tp1.latencyMs.p99,
    throughputRatioAt64: g64.rps / tp64.rps,
  };
}

/** What the `--scrape-metrics` scraper saw. */
interface ScrapeStats {
  count: number;
  errors: number;
  /** Mean time of one scrape, request to last byte, in ms. */
  meanMs: number;
  meanBytes: number;
}

/** GETs `url` every {@linkcode SCRAPE_EVERY_MS} until `signal` aborts, as Prometheus would. */
async function scrapeEvery(url: string, signal: AbortSignal): Promise<ScrapeStats> {
  let count = 0;
  let errors = 0;
  let totalMs = 0;
  let totalBytes = 0;
  while (!signal.aborted) {
    const started = performance.now();
    try {
      const response = await fetch(url, { signal });
      const text = await response.text();
      if (!response.ok) errors++;
      totalBytes += text.length;
      count++;
      totalMs += performance.now() - started;
    } catch {
      if (!signal.aborted) errors++;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(
        resolve,
        Math.max(0, SCRAPE_EVERY_MS - (performance.now() - started)),
      );
      signal.addEventListener("abort", () => {
        clearTimeout(timer);
        resolve();
      }, { once: true });
    });
  }
  return {
    count,
    errors,
    meanMs: count === 0 ? NaN : totalMs / count,
    meanBytes: count === 0 ? NaN : totalBytes / count,
  };
}

/** The issue's target: scraping every second adds less than 5% to the added p50 at c=1. */
function scrapeVerdict(
  addedP50Ms: number | undefined,
  addedP50ScrapedMs: number | undefined,
  scrapes: ScrapeStats,
) {
  const ratio = addedP50Ms !== undefined && addedP50ScrapedMs !== undefined && addedP50Ms > 0
    ? addedP50ScrapedMs / addedP50Ms
    : undefined;
  return {
    everyMs: SCRAPE_EVERY_MS,
    scrapes: scrapes.count,
    scrapeErrors: scrapes.errors,
    scrapeMeanMs: scrapes.meanMs,
    scrapeMeanBytes: scrapes.meanBytes,
    addedP50Ms,
    addedP50ScrapedMs,
    ratio,
    met: ratio === undefined ? undefined : ratio < 1.05,
  };
}

/** `deno task bench proxy`. */
export const proxyBench: BenchSuite = {
  name: "proxy",
  summary: "gateway overhead vs direct, a bare Hono forwarder and nginx (JSON, SSE)",
  usage,
  async run(args) {
    const { values } = parseFlags(args, {
      duration: { type: "string" },
      warmup: { type: "string" },
      rounds: { type: "string" },
      concurrency: { type: "string" },
      targets: { type: "string" },
      strategy: { type: "string" },
      "no-nginx": { type: "boolean" },
      "compare-clients": { type: "boolean" },
      "scrape-metrics": { type: "boolean" },
      dashboards: { type: "boolean" },
      "access-log": { type: "boolean" },
      "header-guard": { type: "boolean" },
    }, usage);
    const durationS = numberFlag(values.duration, "duration", usage) ?? 2;
    const warmupS = numberFlag(values.warmup, "warmup", usage) ?? 0.5;
    const roundCount = Math.max(1, Math.round(numberFlag(values.rounds, "rounds", usage) ?? 3));
    const concurrencies = (values.concurrency ?? "1,64,256").split(",").map((s) =>
      Number(s.trim())
    );
    const wanted = new Set(
      (values.targets ??
        TARGETS.filter((t) =>
          !["turnpike-fetch", "turnpike-scraped", "turnpike-watched", "turnpike-guarded"].includes(
            t,
          )
        )
          .join(",")).split(",")
        .map((s) => s.trim()),
    );
    if (values["no-nginx"]) wanted.delete("nginx");
    if (values["compare-clients"]) wanted.add("turnpike-fetch");
    if (values["scrape-metrics"]) wanted.add("turnpike-scraped");
    if (values.dashboards) wanted.add("turnpike-watched");
    if (values["header-guard"]) wanted.add("turnpike-guarded");
    const accessLog = values["access-log"] === true;
    const strategy = values.strategy ?? "prefix_aware";

    const dir = await Deno.makeTempDir({ prefix: "turnpike-bench-proxy-" });
    const services: Service[] = [];
    const urls = new Map<Target, string>();
    const scraper = new AbortController();
    let scraping: Promise<ScrapeStats> | undefined;
    let watchedScraping: Promise<ScrapeStats> | undefined;
    let watching: Promise<DashboardFeedStats> | undefined;
    try {
      const upstream = await startZeroLatencyBackend();
      services.push(upstream);
      const upstreamUrl = `http://127.0.0.1:${upstream.port}`;
      urls.set("direct", `${upstreamUrl}/v1/chat/completions`);
      for (
        const [target, client] of [
          ["turnpike", "http1"],
          ["turnpike-fetch", "fetch"],
          ["turnpike-scraped", "http1"],
          ["turnpike-watched", "http1"],
          ["turnpike-guarded", "http1"],
        ] as const
      ) {
        if (!wanted.has(target)) continue;
        const port = freePort();
        const configPath = join(dir, `${target}.yaml`);
        await Deno.writeTextFile(
          configPath,
          [
            `proxy: {host: 127.0.0.1, port: ${port}, strategy: ${strategy}, upstream_client: ${client}` +
            (target === "turnpike-guarded" ? ", header_timeout: 10}" : "}"),
            `models: [{name: bench, endpoints: ["${upstreamUrl}"]}]`,
            `logging: {access_log: ${accessLog}}`,
            `state_dir: ${join(dir, `state-${target}`)}`,
            "",
          ].join("\n"),
        );
        const tp = await startService(
          pinned("0", [
            Deno.execPath(),
            "run",
            "-A",
            join(ROOT, "main.ts"),
            "serve",
            "--config",
            configPath,
          ]),
          target,
        );
        services.push(tp);
        await waitHttp(
          `http://127.0.0.1:${tp.port}/v1/models`,
          (_res, text) => text.includes('"healthy":1'),
          15_000,
        );
        urls.set(target, `http://127.0.0.1:${tp.port}/v1/chat/completions`);
        if (target === "turnpike-scraped") {
          scraping = scrapeEvery(`http://127.0.0.1:${tp.port}/metrics`, scraper.signal);
        }
        if (target === "turnpike-watched") {
          watchedScraping = scrapeEvery(`http://127.0.0.1:${tp.port}/metrics`, scraper.signal);
          watching = watchDashboards(`http://127.0.0.1:${tp.port}`, scraper.signal);
        }
      }
      if (wanted.has("hono")) {
        const hono = await startService(
          pinned("0", [
            Deno.execPath(),
            "run",
            "-A",
            join(ROOT, "bench/proxy/forwarder.ts"),
            "--port=0",
            `--upstream=${upstreamUrl}`,
          ]),
          "the Hono forwarder",
        );
        services.push(hono);
        urls.set("hono", `http://127.0.0.1:${hono.port}/v1/chat/completions`);
      }
      if (wanted.has("nginx")) {
        const nginx = await ensureNginx();
        if (nginx) {
          const ng = await startNginx(nginx, upstream.port, dir);
          services.push(ng);
          urls.set("nginx", `http://127.0.0.1:${ng.port}/v1/chat/completions`);
        } else {
          console.error("Skipping nginx: it could not be installed");
        }
      }

      const runs: Run[] = [];
      const order = TARGETS.filter((t) => urls.has(t) && (t === "direct" || wanted.has(t)));
      const orderUrls = order.map((t) => urls.get(t)!);
      // Every service runs its hot code until the JIT has compiled it before anything is measured.
      for (const stream of [false, true]) {
        await load(orderUrls, 8, stream, JIT_WARMUP_S, 0);
      }
      for (const mode of ["json", "sse"] as const) {
        for (const concurrency of concurrencies) {
          // Targets take turns, round after round, so a burst of load from elsewhere on the
          // machine hits them all alike; each figure is the median over the rounds. At
          // concurrency 1 they take turns request by request, within one run, which makes the
          // tail percentiles comparable on a noisy machine.
          const rounds = new Map<Target, LoadResult[]>();
          const keep = (target: Target, result: LoadResult) =>
            rounds.set(target, [...(rounds.get(target) ?? []), result]);
          for (let round = 0; round < roundCount; round++) {
            if (concurrency === 1) {
              const results = await load(
                orderUrls,
                1,
                mode === "sse",
                durationS * order.length,
                warmupS,
              );
              order.forEach((target, i) => keep(target, results[i]!));
              continue;
            }
            for (const target of order) {
              const [result] = await load(
                [urls.get(target)!],
                concurrency,
                mode === "sse",
                durationS,
                warmupS,
              );
              keep(target, result!);
            }
          }
          for (const target of order) {
            const result = medianResult(rounds.get(target)!);
            runs.push({ target, mode, concurrency, ...result });
            console.error(
              `${mode} c=${concurrency} ${target}: ${fmt(result.rps, 0)} req/s, p50 ${
                fmt(result.latencyMs.p50, 3)
              } ms, ` +
                `p99 ${fmt(result.latencyMs.p99, 3)} ms, ttfb p50 ${
                  fmt(result.ttfbMs.p50, 3)
                } ms, errors ${result.errors}`,
            );
          }
        }
      }

      const header =
        "| mode | c | target | req/s | p50 ms | p99 ms | added p50 ms | TTFB p50 ms | errors |";
      const lines = [header, "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |"];
      for (const r of runs) {
        const direct = runs.find((d) =>
          d.target === "direct" && d.mode === r.mode && d.concurrency === r.concurrency
        );
        const added = direct && r.target !== "direct"
          ? r.latencyMs.p50 - direct.latencyMs.p50
          : undefined;
        lines.push(
          `| ${r.mode} | ${r.concurrency} | ${r.target} | ${fmt(r.rps, 0)} | ${
            fmt(r.latencyMs.p50, 3)
          } | ${fmt(r.latencyMs.p99, 3)} | ` +
            `${fmt(added, 3)} | ${fmt(r.ttfbMs.p50, 3)} | ${r.errors} |`,
        );
      }
      const pick = await measurePick(strategy);
      console.log(lines.join("\n"));
      console.log(
        `\nRouting decision (${strategy}, in process): direct call ${fmt(pick.directUs, 2)} us, ` +
          `local actor ask ${
            fmt(pick.askUs, 2)
          } us per pick; the hot path calls the router's view directly.`,
      );
      const turnpikes = ([
        "turnpike",
        "turnpike-fetch",
        "turnpike-scraped",
        "turnpike-watched",
        "turnpike-guarded",
      ] as const).filter((t) => urls.has(t));
      const verdictOf = Object.fromEntries(turnpikes.map((t) => [t, verdicts(runs, t)]));
      for (const [target, verdict] of Object.entries(verdictOf)) {
        console.log(
          `\nTargets (${target}): added p50 at c=1 ${
            fmt(verdict.addedP50Ms, 3)
          } ms (<= 0.5: ${verdict.addedP50Met}), ` +
            `added p99 ${fmt(verdict.addedP99Ms, 3)} ms (<= 2: ${verdict.addedP99Met}), ` +
            `throughput at c=64 ${
              fmt((verdict.throughputVsHonoAt64 ?? NaN) * 100, 1)
            }% of Hono (>= 90%: ${verdict.throughputMet}), ` +
            `SSE TTFB added p50 ${
              fmt(verdict.sseTtfbAddedP50Ms, 3)
            } ms (<= 1: ${verdict.sseTtfbMet})`,
        );
      }
      const guarded = guardVerdict(runs);
      if (guarded) {
        console.log(
          `\nConnection guard (proxy.header_timeout): adds ${
            fmt(guarded.addedP50Ms, 3)
          } ms p50 and ` +
            `${fmt(guarded.addedP99Ms, 3)} ms p99 at c=1 to turnpike; throughput at c=64 ` +
            `${fmt(guarded.throughputRatioAt64 * 100, 1)}% of turnpike's`,
        );
      }
      scraper.abort();
      const scrapes = await scraping;
      const scrape = scrapes && verdictOf["turnpike"] && verdictOf["turnpike-scraped"]
        ? scrapeVerdict(
          verdictOf["turnpike"].addedP50Ms,
          verdictOf["turnpike-scraped"].addedP50Ms,
          scrapes,
        )
        : undefined;
      if (scrape) {
        console.log(
          `\nScraping /metrics every ${SCRAPE_EVERY_MS / 1000} s (${scrapes!.count} scrapes, ` +
            `${fmt(scrapes!.meanMs, 2)} ms and ${fmt(scrapes!.meanBytes / 1024, 1)} KiB each): ` +
            `added p50 at c=1 ${fmt(scrape.addedP50Ms, 3)} ms without, ` +
            `${fmt(scrape.addedP50ScrapedMs, 3)} ms with; ratio ${fmt(scrape.ratio, 3)} ` +
            `(< 1.05: ${scrape.met})`,
        );
      }
      const watchedScrapes = await watchedScraping;
      const feeds = await watching;
      const watched =
        watchedScrapes && feeds && verdictOf["turnpike"] && verdictOf["turnpike-watched"]
          ? {
            ...scrapeVerdict(
              verdictOf["turnpike"].addedP50Ms,
              verdictOf["turnpike-watched"].addedP50Ms,
              watchedScrapes,
            ),
            dashboardIntervalS: DASHBOARD_INTERVAL_S,
            ...feeds,
          }
          : undefined;
      if (watched) {
        console.log(
          `\nScraping /metrics every ${
            SCRAPE_EVERY_MS / 1000
          } s (${watched.scrapes} scrapes) and both ` +
            `dashboards open (${watched.polls} polls of the TUI's endpoints, ${
              fmt(watched.pollMeanMs, 2)
            } ms ` +
            `each; ${watched.events} SSE updates; errors ${
              watched.pollErrors + watched.eventErrors
            }): ` +
            `added p50 at c=1 ${fmt(watched.addedP50Ms, 3)} ms without, ` +
            `${fmt(watched.addedP50ScrapedMs, 3)} ms with; ratio ${
              fmt(watched.ratio, 3)
            } (< 1.05: ${watched.met})`,
        );
      }
      const result = {
        suite: "proxy",
        at: new Date().toISOString(),
        machine: {
          cpus: navigator.hardwareConcurrency,
          deno: Deno.version.deno,
          pinned: pinned("0", []).length > 0,
        },
        settings: { durationS, warmupS, rounds: roundCount, concurrencies, strategy },
        runs,
        pick,
        targets: verdictOf["turnpike"],
        ...(verdictOf["turnpike-fetch"] ? { targetsFetch: verdictOf["turnpike-fetch"] } : {}),
        ...(scrape ? { scrape } : {}),
        ...(watched ? { watched } : {}),
        ...(guarded ? { guard: guarded } : {}),
        accessLog,
      };
      const resultsDir = join(ROOT, "bench/results");
      await Deno.mkdir(resultsDir, { recursive: true });
      const stamp = result.at.replace(/[:.]/g, "-");
      const text = JSON.stringify(result, null, 2) + "\n";
      await Deno.writeFile(join(resultsDir, `proxy-${stamp}.json`), encoder.encode(text));
      await Deno.writeFile(join(resultsDir, "proxy-latest.json"), encoder.encode(text));
      console.log(`\nWrote bench/results/proxy-${stamp}.json and proxy-latest.json`);
      return 0;
    } finally {
      scraper.abort();
      await scraping;
      await watchedScraping;
      await watching;
      for (const service of services.reverse()) await service.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
};
