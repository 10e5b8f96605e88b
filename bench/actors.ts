/** `deno task bench actors`: local and durable tell-to-handle latency and throughput of the runtime. */
import { z } from "zod";
import type { BenchSuite } from "./command.ts";
import { numberFlag, parseFlags } from "../config/mod.ts";
import { ActorSystem, type Behavior } from "../actors/runtime/mod.ts";
import { summarize } from "../sim/mod.ts";

/** Local-path targets on the 2-core reference machine. */
export const TARGETS = { localP50Us: 50, localMsgsPerSec: 200_000 } as const;

const usage = [
  "Usage: deno task bench actors [options]",
  "",
  "Measures the actor runtime: tell-to-handle latency (p50/p99) and messages/s, in process",
  "(local) and through Deno KV (durable: enqueue, listenQueue, dedupe + snapshot commit).",
  `Local targets: p50 <= ${TARGETS.localP50Us} us, >= ${TARGETS.localMsgsPerSec} msgs/s.`,
  "",
  "  --latency N      local latency samples [20000]",
  "  --messages N     local messages for throughput [1000000]",
  "  --durable N      durable messages for latency and for throughput [300]",
  "  --out DIR        where the JSON goes [bench/results]",
].join("\n");

const flags = {
  latency: { type: "string" },
  messages: { type: "string" },
  durable: { type: "string" },
  out: { type: "string" },
} as const;

/** Sizes of one run. */
export interface ActorsBenchOptions {
  latencySamples: number;
  messages: number;
  durableMessages: number;
}

/** Latency percentiles, in microseconds. */
export interface LatencyUs {
  samples: number;
  p50Us: number;
  p99Us: number;
  meanUs: number;
}

/** What one run measured. */
export interface ActorsBenchReport {
  local: {
    tellToHandle: LatencyUs;
    askRoundTrip: LatencyUs;
    msgsPerSecOneActor: number;
    msgsPerSecManyActors: number;
  };
  durable: { tellToHandle: LatencyUs; msgsPerSecOneActor: number; msgsPerSecTenActors: number };
}

function latencyUs(samplesMs: readonly number[]): LatencyUs {
  const us = summarize(samplesMs.map((ms) => ms * 1_000));
  return {
    samples: us.count,
    p50Us: round(us.p50),
    p99Us: round(us.p99),
    meanUs: round(us.count === 0 ? 0 : us.mean),
  };
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

type Probe = { type: "probe"; sentAt: number } | { type: "count" } | { type: "get" };

function probeBehavior(onProbe: (latencyMs: number) => void): Behavior<number, Probe> {
  return {
    kind: "probe",
    init: () => 0,
    receive(n, msg, ctx) {
      if (msg.type === "probe") onProbe(performance.now() - msg.sentAt);
      else if (msg.type === "get") ctx.reply(n);
      return n + 1;
    },
  };
}

async function localLatency(samples: number): Promise<LatencyUs> {
  const latencies: number[] = [];
  let handled: () => void = () => {};
  const system = await ActorSystem.start();
  try {
    const ref = system.spawn(
      probeBehavior((ms) => {
        latencies.push(ms);
        handled();
      }),
      "latency",
    );
    await ref.ask({ type: "get" });
    for (let i = 0; i < samples + 1_000; i++) {
      const done = new Promise<void>((resolve) => handled = resolve);
      ref.tell({ type: "probe", sentAt: performance.now() });
      await done;
    }
  } finally {
    await system.shutdown();
  }
  return latencyUs(latencies.slice(1_000));
}

async function askLatency(samples: number): Promise<LatencyUs> {
  const system = await ActorSystem.start();
  const latencies: number[] = [];
  try {
    const ref = system.spawn(probeBehavior(() => {}), "ask");
    for (let i = 0; i < samples + 1_000; i++) {
      const t0 = performance.now();
      await ref.ask({ type: "get" });
      if (i >= 1_000) latencies.push(performance.now() - t0);
    }
  } finally {
    await system.shutdown();
  }
  return latencyUs(latencies);
}

async function localThroughput(messages: number, actors: number): Promise<number> {
  const system = await ActorSystem.start();
  try {
    const refs = Array.from(
      { length: actors },
      (_, i) => system.spawn(probeBehavior(() => {}), `t${i}`),
    );
    for (const r of refs) await r.ask({ type: "get" });
    const per = Math.floor(messages / actors);
    const msg: Probe = { type: "count" };
    const t0 = performance.now();
    for (let i = 0; i < per; i++) for (const r of refs) r.tell(msg);
    const counts = await Promise.all(
      refs.map((r) => r.ask<number>({ type: "get" }, { timeoutMs: 120_000 })),
    );
    const seconds = (performance.now() - t0) / 1_000;
    const total = counts.reduce((a, b) => a + b, 0) - 2 * actors;
    return Math.round(total / seconds);
  } finally {
    await system.shutdown();
  }
}

const DurableMsg = z.object({ type: z.literal("probe"), sentAt: z.number() });

async function durable(messages: number): Promise<ActorsBenchReport["durable"]> {
  const dir = await Deno.makeTempDir({ prefix: "turnpike-bench-actors-" });
  const latencies: number[] = [];
  let handled = 0;
  let wake: () => void = () => {};
  const behavior: Behavior<number, z.infer<typeof DurableMsg>> = {
    kind: "durable_probe",
    init: () => 0,
    receive(n, msg) {
      latencies.push(performance.now() - msg.sentAt);
      handled++;
      wake();
      return n + 1;
    },
    persistence: { state: z.number(), messages: DurableMsg },
  };
  const system = await ActorSystem.start({
    kvPath: `${dir}/bench.kv`,
    behaviors: [behavior],
    recoverySweepsMs: [],
  });
  const until = async (n: number) => {
    while (handled < n) await new Promise<void>((resolve) => wake = resolve);
  };
  const probe = () => ({ type: "probe" as const, sentAt: performance.now() });
  const burst = async (actors: number) => {
    const target = handled + messages;
    const t0 = performance.now();
    await Promise.all(
      Array.from(
        { length: messages },
        (_, i) => system.tellDurable(`durable_probe/p${i % actors}`, probe()),
      ),
    );
    await until(target);
    return Math.round(messages / ((performance.now() - t0) / 1_000));
  };
  try {
    for (let i = 0; i < messages; i++) {
      await system.tellDurable("durable_probe/p0", probe());
      await until(i + 1);
    }
    const tellToHandle = latencyUs(latencies.slice(Math.min(10, messages - 1)));
    const msgsPerSecOneActor = await burst(1);
    const msgsPerSecTenActors = await burst(10);
    return { tellToHandle, msgsPerSecOneActor, msgsPerSecTenActors };
  } finally {
    await system.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Runs every measurement once. */
export async function runActorsBench(options: ActorsBenchOptions): Promise<ActorsBenchReport> {
  return {
    local: {
      tellToHandle: await localLatency(options.latencySamples),
      askRoundTrip: await askLatency(options.latencySamples),
      msgsPerSecOneActor: await localThroughput(options.messages, 1),
      msgsPerSecManyActors: await localThroughput(options.messages, 100),
    },
    durable: await durable(options.durableMessages),
  };
}

function print(r: ActorsBenchReport): void {
  const num = (n: number) => `${n.toLocaleString("en-US")} msgs/s`;
  const row = (name: string, value: string) => console.log(`  ${name.padEnd(26)} ${value}`);
  const lat = (name: string, l: LatencyUs, unit: "us" | "ms") => {
    const f = (us: number) =>
      unit === "us" ? `${us.toFixed(1)} us` : `${(us / 1_000).toFixed(2)} ms`;
    row(
      name,
      `p50 ${f(l.p50Us).padStart(10)}  p99 ${f(l.p99Us).padStart(10)}  (${l.samples} samples)`,
    );
  };
  console.log("Local (in-process) transport");
  lat("tell -> handle", r.local.tellToHandle, "us");
  lat("ask round trip", r.local.askRoundTrip, "us");
  row("throughput, 1 actor", num(r.local.msgsPerSecOneActor));
  row("throughput, 100 actors", num(r.local.msgsPerSecManyActors));
  console.log("Durable transport (Deno KV queue; dedupe keys + snapshot committed atomically)");
  lat("tell -> handle", r.durable.tellToHandle, "ms");
  row("throughput, 1 actor", num(r.durable.msgsPerSecOneActor));
  row("throughput, 10 actors", num(r.durable.msgsPerSecTenActors));
}

/** `deno task bench actors`. */
export const actorsBench: BenchSuite = {
  name: "actors",
  summary: "actor runtime: local and durable tell-to-handle latency and msgs/s",
  usage,
  async run(args) {
    const { values } = parseFlags(args, flags, usage);
    const options: ActorsBenchOptions = {
      latencySamples: numberFlag(values.latency, "--latency", usage) ?? 20_000,
      messages: numberFlag(values.messages, "--messages", usage) ?? 1_000_000,
      durableMessages: numberFlag(values.durable, "--durable", usage) ?? 300,
    };
    const report = await runActorsBench(options);
    print(report);
    const met = report.local.tellToHandle.p50Us <= TARGETS.localP50Us &&
      report.local.msgsPerSecOneActor >= TARGETS.localMsgsPerSec;
    console.log(
      `\nLocal targets (p50 <= ${TARGETS.localP50Us} us, >= ${TARGETS.localMsgsPerSec} msgs/s): ${
        met ? "met" : "NOT met"
      }`,
    );
    const stamp = new Date().toISOString().replaceAll(":", "-").replace(/\.\d+Z$/, "Z");
    const json = JSON.stringify(
      {
        suite: "actors",
        at: new Date().toISOString(),
        machine: {
          cpus: navigator.hardwareConcurrency,
          deno: Deno.version.deno,
          os: Deno.build.os,
        },
        options,
        targets: { ...TARGETS, met },
        ...report,
      },
      null,
      2,
    );
    const dir = (values.out ?? new URL("./results", import.meta.url).pathname).replace(/\/$/, "");
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(`${dir}/actors-${stamp}.json`, json + "\n");
    await Deno.writeTextFile(`${dir}/actors-latest.json`, json + "\n");
    console.log(`Wrote ${dir}/actors-${stamp}.json and actors-latest.json`);
    return 0;
  },
};
