/** `deno task bench sessions`: issue #11's session targets: turn overhead, idle memory, and what compaction keeps of the prefix cache. */
import { join } from "node:path";
import { numberFlag, parseFlags, UsageError } from "../config/mod.ts";
import type { BenchSuite } from "./command.ts";
import {
  type AgentOptions,
  type AgentPolicy,
  type AgentRun,
  runAgentSession,
} from "./sessions/agent.ts";
import { measureMemory, type MemoryOptions, type MemoryResult } from "./sessions/memory.ts";
import { measureOverhead, type OverheadOptions, type OverheadRun } from "./sessions/overhead.ts";
import { atLeast, atMost, passFail, SESSION_TARGETS } from "./sessions/verdicts.ts";

const RESULTS = new URL("./results/", import.meta.url).pathname;
const PARTS = ["overhead", "memory", "cache"] as const;
type Part = typeof PARTS[number];

const usage = [
  "Usage: deno task bench sessions [options]",
  "",
  "Measures issue #11's session targets and prints PASS or FAIL for each:",
  "  overhead  a session turn (new message only) against the same plain /v1/chat/completions",
  "            call carrying the whole history, alternating per client in one run, at many",
  "            concurrent sessions on a zero-latency backend; gateway and backend on CPU 0",
  "            (--gateway-cpus widens the gateway's), clients on CPU 1 (taskset, when present).",
  "            Target: <= 2 ms p50, <= 5 ms p99 added.",
  "  memory    sessions created with one turn each on a gateway in its own process, left to",
  "            passivate; its heap after forced GC and its RSS against a warmed-up baseline.",
  "            Target: <= 100 MB per 10,000 idle sessions (both figures).",
  "  cache     a long agent session with tool calls on one simulated replica (calibrated",
  "            latency, prefix cache), compacted at threshold 0.8 down to 0.5 (sliding_window),",
  "            against plain calls from a client that keeps half the budget and leaves out its",
  "            oldest message on every call (the naive window), the same client trimming only when",
  "            over, and the session's own compaction at threshold 0.5 down to 0.49.",
  "            Target: threshold >= 80% prefix hits, naive window < 20%.",
  "",
  "Options:",
  "  --quick               a short run of everything (a smoke test, not the figures)",
  "  --targets LIST        comma-separated subset of overhead,memory,cache [all]",
  "  --concurrency N       overhead: concurrent sessions [64]",
  "  --duration S          overhead: measured seconds per round [5; quick 2]",
  "  --warmup S            overhead: unmeasured seconds at the start of each round [1]",
  "  --rounds N            overhead: rounds per mode; medians are reported [3; quick 1]",
  "  --modes LIST          overhead: json, sse or both [json,sse]",
  "  --turns-per-session N overhead: turns before a client starts a new session [16]",
  "  --think LIST          overhead: load shapes, each client's mean pause after a turn in ms;",
  "                        0 is a closed loop that saturates the gateway's CPU [0,200]",
  "  --state-dir DIR       overhead: where the gateway's KV file goes, e.g. /dev/shm to take the",
  "                        disk's fsync out of the commit [a temporary folder]",
  "  --gateway-cpus LIST   overhead: the CPUs the gateway may use (taskset -c), e.g. 0,1 to give",
  "                        KV's SQLite thread a core of its own beside the event loop [0]",
  "  --cpu-prof DIR        overhead: write the gateway's V8 CPU profile (.cpuprofile) into DIR",
  "  --sessions N          memory: idle sessions [10000; quick 2000]",
  "  --idle-passivate S    memory: the gateway's sessions.idle_passivate [1]",
  "  --turns N             cache: chat calls of the agent session [200; quick 60]",
  "  --budget T            cache: the session's budget_tokens [32768; quick 8192]",
  "  --time-scale F        cache: simulated ms per real ms of the replica [1; quick 10]",
  "  --tool-chars N        cache: characters of each tool result [1600]",
  "  --out DIR             where sessions-latest.json goes [bench/results]",
].join("\n");

const flags = {
  quick: { type: "boolean" },
  targets: { type: "string" },
  concurrency: { type: "string" },
  duration: { type: "string" },
  warmup: { type: "string" },
  rounds: { type: "string" },
  modes: { type: "string" },
  "turns-per-session": { type: "string" },
  think: { type: "string" },
  "state-dir": { type: "string" },
  "gateway-cpus": { type: "string" },
  "cpu-prof": { type: "string" },
  sessions: { type: "string" },
  "idle-passivate": { type: "string" },
  turns: { type: "string" },
  budget: { type: "string" },
  "time-scale": { type: "string" },
  "tool-chars": { type: "string" },
  out: { type: "string" },
} as const;

/** Parsed `bench sessions` command line. */
export interface SessionsBenchPlan {
  quick: boolean;
  parts: Part[];
  overhead: OverheadOptions;
  memory: MemoryOptions;
  cache: AgentOptions;
  out: string;
}

function listOf<T extends string>(value: string, allowed: readonly T[], flag: string): T[] {
  const items = value.split(",").map((s) => s.trim()).filter((s) => s !== "");
  for (const item of items) {
    if (!(allowed as readonly string[]).includes(item)) {
      throw new UsageError(`--${flag} has "${item}": choose from ${allowed.join(", ")}`, usage);
    }
  }
  if (items.length === 0) throw new UsageError(`--${flag} names nothing`, usage);
  return items as T[];
}

/** A taskset CPU list ("0", "0,1", "0-1"), checked so a typo fails here and not in taskset. */
function cpuList(value: string): string {
  if (!/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(value)) {
    throw new UsageError(`--gateway-cpus has "${value}": give CPUs like 0 or 0,1 or 0-1`, usage);
  }
  return value;
}

/** Parses the `bench sessions` arguments; throws a UsageError on a bad command line. */
export function parseSessionsArgs(args: string[]): SessionsBenchPlan {
  const { values } = parseFlags(args, flags, usage);
  const quick = values.quick === true;
  const positive = (name: keyof typeof flags, fallback: number, integer = true) => {
    const value = numberFlag(values[name] as string | undefined, name, usage) ?? fallback;
    if (!(value > 0) || (integer && !Number.isInteger(value))) {
      throw new UsageError(`--${name} must be a positive ${integer ? "integer" : "number"}`, usage);
    }
    return value;
  };
  return {
    quick,
    parts: values.targets === undefined ? [...PARTS] : listOf(values.targets, PARTS, "targets"),
    overhead: {
      concurrency: positive("concurrency", 64),
      durationS: positive("duration", quick ? 2 : 5, false),
      warmupS: numberFlag(values.warmup, "warmup", usage) ?? 1,
      rounds: positive("rounds", quick ? 1 : 3),
      modes: values.modes === undefined
        ? ["json", "sse"]
        : listOf(values.modes, ["json", "sse"] as const, "modes"),
      thinkMs: (values.think ?? "0,200").split(",").map((item) => {
        const ms = Number(item.trim());
        if (!(ms >= 0)) throw new UsageError(`--think has "${item}": give ms, 0 or more`, usage);
        return ms;
      }),
      turnsPerSession: positive("turns-per-session", 16),
      userChars: 400,
      stateDir: values["state-dir"],
      gatewayCpus: cpuList(values["gateway-cpus"] ?? "0"),
      gatewayDenoArgs: values["cpu-prof"] === undefined
        ? []
        : ["--cpu-prof", `--cpu-prof-dir=${values["cpu-prof"]}`],
    },
    memory: {
      sessions: positive("sessions", quick ? 2_000 : 10_000),
      warmupSessions: quick ? 200 : 500,
      concurrency: 32,
      idlePassivateS: positive("idle-passivate", 1, false),
    },
    cache: {
      turns: positive("turns", quick ? 60 : 200),
      budgetTokens: positive("budget", quick ? 8_192 : 32_768),
      keepRecentTurns: 2,
      toolChars: positive("tool-chars", 1_600),
      userChars: 300,
      maxTokens: 48,
      timeScale: positive("time-scale", quick ? 10 : 1, false),
    },
    out: values.out ?? RESULTS,
  };
}

/** The three ways the cache part keeps an agent's context within budget. */
export const CACHE_POLICIES: readonly AgentPolicy[] = [
  { kind: "session", label: "threshold 0.8 -> 0.5 (session)", threshold: 0.8, target: 0.5 },
  {
    kind: "client_window",
    label: "naive window 0.5, oldest message out every call",
    windowFraction: 0.5,
    everyCall: true,
  },
  {
    kind: "client_window",
    label: "client window 0.5, trimmed when over",
    windowFraction: 0.5,
    everyCall: false,
  },
  { kind: "session", label: "threshold 0.5 -> 0.49 (session)", threshold: 0.5, target: 0.49 },
];

function fmt(n: number | undefined, digits = 2): string {
  return n === undefined || Number.isNaN(n) ? "-" : n.toFixed(digits);
}

function pct(n: number | undefined): string {
  return n === undefined || Number.isNaN(n) ? "-" : `${(n * 100).toFixed(1)}%`;
}

/** Judges the figures against {@linkcode SESSION_TARGETS}; undefined where a part did not run. */
export function sessionVerdicts(
  overhead: readonly OverheadRun[],
  memory: MemoryResult | undefined,
  cache: readonly AgentRun[],
) {
  // Per load shape, the worse of the JSON and SSE figures.
  const shapes = [...new Set(overhead.map((r) => r.thinkMs))].map((thinkMs) => {
    const runs = overhead.filter((r) => r.thinkMs === thinkMs);
    const addedP50Ms = Math.max(...runs.map((r) => r.addedP50Ms));
    const addedP99Ms = Math.max(...runs.map((r) => r.addedP99Ms));
    return {
      thinkMs,
      addedP50Ms,
      addedP99Ms,
      p50Met: atMost(addedP50Ms, SESSION_TARGETS.addedP50Ms),
      p99Met: atMost(addedP99Ms, SESSION_TARGETS.addedP99Ms),
    };
  });
  const idleMb = memory === undefined
    ? undefined
    : Math.max(memory.idleRssMbPer10k, memory.idleHeapMbPer10k);
  const threshold = cache.find((r) => r.policy === CACHE_POLICIES[0]);
  const naive = cache.find((r) => r.policy === CACHE_POLICIES[1]);
  return {
    overhead: shapes,
    memory: { idleMbPer10k: idleMb, met: atMost(idleMb, SESSION_TARGETS.idleMbPer10k) },
    cache: {
      thresholdHitRate: threshold?.hitRate,
      naiveHitRate: naive?.hitRate,
      thresholdMet: atLeast(threshold?.hitRate, SESSION_TARGETS.thresholdHitRate),
      naiveMet: naive === undefined ? undefined : naive.hitRate < SESSION_TARGETS.naiveHitRate,
    },
  };
}

function shapeLabel(thinkMs: number): string {
  return thinkMs === 0 ? "closed loop" : `${thinkMs} ms think time`;
}

function overheadTable(runs: readonly OverheadRun[]): string {
  const lines = [
    "| mode | c | load | req/s | path | requests | p50 ms | p99 ms | mean ms | errors |",
    "| --- | ---: | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const r of runs) {
    for (const [path, f] of [["plain (full history)", r.plain], ["session turn", r.session]]) {
      const v = f as OverheadRun["plain"];
      lines.push(
        `| ${r.mode} | ${r.concurrency} | ${shapeLabel(r.thinkMs)} | ${
          fmt(r.rps, 0)
        } | ${path} | ${v.requests} | ${fmt(v.p50Ms, 3)} | ${fmt(v.p99Ms, 3)} | ${
          fmt(v.meanMs, 3)
        } | ${v.errors} |`,
      );
    }
    lines.push(
      `| ${r.mode} | ${r.concurrency} | ${shapeLabel(r.thinkMs)} |  | **added** |  | ${
        fmt(r.addedP50Ms, 3)
      } | ${fmt(r.addedP99Ms, 3)} |  |  |`,
    );
  }
  return lines.join("\n");
}

function memoryTable(m: MemoryResult): string {
  const mb = (bytes: number) => fmt(bytes / 1e6, 1);
  return [
    "| reading | session actors | RSS MB | heap used MB |",
    "| --- | ---: | ---: | ---: |",
    `| baseline (after ${m.warmupSessions} warm-up sessions passivated) | ${m.baseline.sessionActors} | ${
      mb(m.baseline.rssBytes)
    } | ${mb(m.baseline.heapUsedBytes)} |`,
    `| after ${m.sessions} turns | ${m.active.sessionActors} | ${mb(m.active.rssBytes)} | ${
      mb(m.active.heapUsedBytes)
    } |`,
    `| all passivated | ${m.idle.sessionActors} | ${mb(m.idle.rssBytes)} | ${
      mb(m.idle.heapUsedBytes)
    } |`,
    `| **idle cost per 10k sessions** |  | ${fmt(m.idleRssMbPer10k, 1)} | ${
      fmt(m.idleHeapMbPer10k, 1)
    } |`,
  ].join("\n");
}

function cacheTable(runs: readonly AgentRun[]): string {
  const lines = [
    "| context policy | turns | tool calls | compactions | mean prompt tok | prefix hit rate | TTFT mean ms | TTFT p50 ms | replica TTFT mean ms | errors |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const r of runs) {
    lines.push(
      `| ${r.label} | ${r.turns} | ${r.toolCalls} | ${r.compactions} | ${
        fmt(r.promptTokens.mean, 0)
      } | ${pct(r.hitRate)} | ${fmt(r.ttftMs.mean, 1)} | ${fmt(r.ttftMs.p50, 1)} | ${
        fmt(r.replicaTtftMeanMs, 1)
      } | ${r.errors} |`,
    );
  }
  return lines.join("\n");
}

/** `deno task bench sessions`. */
export const sessionsBench: BenchSuite = {
  name: "sessions",
  summary: "session turn overhead, idle-session memory, prefix hits under compaction",
  usage,
  async run(args) {
    const plan = parseSessionsArgs(args);
    const overhead = plan.parts.includes("overhead") ? await measureOverhead(plan.overhead) : [];
    if (overhead.length > 0) console.log(`\nTurn overhead\n\n${overheadTable(overhead)}`);
    let memory: MemoryResult | undefined;
    if (plan.parts.includes("memory")) {
      console.error(`memory: ${plan.memory.sessions} sessions...`);
      memory = await measureMemory(plan.memory);
      console.log(`\nIdle sessions' memory (gateway process)\n\n${memoryTable(memory)}`);
    }
    const cache: AgentRun[] = [];
    if (plan.parts.includes("cache")) {
      for (const policy of CACHE_POLICIES) {
        console.error(`cache: ${policy.label}, ${plan.cache.turns} turns...`);
        cache.push(await runAgentSession(policy, plan.cache));
      }
      console.log(
        `\nPrefix cache under compaction (${plan.cache.turns}-turn agent session, budget ${plan.cache.budgetTokens} tokens, time scale ${plan.cache.timeScale})\n\n${
          cacheTable(cache)
        }`,
      );
    }
    const verdicts = sessionVerdicts(overhead, memory, cache);
    console.log(
      [
        "",
        "Targets:",
        ...verdicts.overhead.map((o) =>
          `  turn overhead, ${shapeLabel(o.thinkMs)}: p50 ${
            fmt(o.addedP50Ms, 3)
          } ms (<= ${SESSION_TARGETS.addedP50Ms}): ${passFail(o.p50Met)}, p99 ${
            fmt(o.addedP99Ms, 3)
          } ms (<= ${SESSION_TARGETS.addedP99Ms}): ${passFail(o.p99Met)}`
        ),
        `  idle memory ${
          fmt(verdicts.memory.idleMbPer10k, 1)
        } MB per 10k (<= ${SESSION_TARGETS.idleMbPer10k}): ${passFail(verdicts.memory.met)}`,
        `  threshold compaction prefix hits ${pct(verdicts.cache.thresholdHitRate)} (>= ${
          SESSION_TARGETS.thresholdHitRate * 100
        }%): ${passFail(verdicts.cache.thresholdMet)}`,
        `  naive window prefix hits ${pct(verdicts.cache.naiveHitRate)} (< ${
          SESSION_TARGETS.naiveHitRate * 100
        }%): ${passFail(verdicts.cache.naiveMet)}`,
      ].join("\n"),
    );
    const result = {
      suite: "sessions",
      at: new Date().toISOString(),
      machine: { cpus: navigator.hardwareConcurrency, deno: Deno.version.deno },
      settings: plan,
      targets: SESSION_TARGETS,
      overhead,
      memory: memory ?? null,
      cache,
      verdicts,
    };
    await Deno.mkdir(plan.out, { recursive: true });
    const path = join(plan.out, "sessions-latest.json");
    await Deno.writeTextFile(path, JSON.stringify(result, null, 2) + "\n");
    console.log(`\nWrote ${path}`);
    return 0;
  },
};
