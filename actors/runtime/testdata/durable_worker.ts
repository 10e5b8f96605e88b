/**
 * A child process for crash tests: runs an actor system on a KV file, sends what its flags say,
 * prints progress lines on stdout, and can hang at a commit point so the test can SIGKILL it.
 */
import { parseArgs } from "node:util";
import { mulberry32 } from "../../../sim/mod.ts";
import { z } from "zod";
import { ActorSystem, type Behavior, installShutdownHandlers } from "../mod.ts";

const flags = parseArgs({
  args: Deno.args,
  options: {
    kv: { type: "string" },
    node: { type: "string", default: "node-a" },
    hang: { type: "string" },
    add: { type: "string", multiple: true, default: [] },
    timer: { type: "string" },
    blob: { type: "boolean", default: false },
    append: { type: "string" },
    actors: { type: "string", default: "10" },
    seed: { type: "string", default: "1" },
    "lease-ttl": { type: "string", default: "30000" },
    "send-adds": { type: "string" },
    "on-usr1": { type: "string" },
    retries: { type: "string", default: "100,200,400,800,1600" },
  },
});

function out(line: string): void {
  Deno.stdout.writeSync(new TextEncoder().encode(`${line}\n`));
}

function hangForever(): Promise<never> {
  return new Promise<never>(() => {
    setInterval(() => {}, 60_000);
  });
}

const CounterState = z.object({
  count: z.number(),
  applied: z.array(z.string()),
  writers: z.array(z.string()),
});
const CounterMsg = z.object({ type: z.literal("add"), n: z.number(), from: z.string() });
const counter: Behavior<z.infer<typeof CounterState>, z.infer<typeof CounterMsg>> = {
  kind: "counter",
  init: () => ({ count: 0, applied: [], writers: [] }),
  receive: (s, m, ctx) => ({
    count: s.count + m.n,
    applied: [...s.applied, `${m.from}:${ctx.messageId}`],
    writers: s.writers.at(-1) === ctx.system.nodeId ? s.writers : [...s.writers, ctx.system.nodeId],
  }),
  persistence: { state: CounterState, messages: CounterMsg },
};

const TimerState = z.object({
  fired: z.array(z.object({ dueAtMs: z.number(), atMs: z.number() })),
});
const TimerMsg = z.object({ type: z.literal("fire"), dueAtMs: z.number() });
const timer: Behavior<z.infer<typeof TimerState>, z.infer<typeof TimerMsg>> = {
  kind: "timer",
  init: () => ({ fired: [] }),
  receive(s, m) {
    out(`FIRED ${Date.now() - m.dueAtMs}`);
    return { fired: [...s.fired, { dueAtMs: m.dueAtMs, atMs: Date.now() }] };
  },
  persistence: { state: TimerState, messages: TimerMsg },
};

const BlobState = z.object({ version: z.number(), parts: z.array(z.string()) });
const BlobMsg = z.object({ type: z.literal("rewrite") });
const blob: Behavior<z.infer<typeof BlobState>, z.infer<typeof BlobMsg>> = {
  kind: "blob",
  init: () => ({ version: 0, parts: [] }),
  receive(s, _m, ctx) {
    const version = s.version + 1;
    const fill = String.fromCharCode(97 + (version % 26));
    ctx.tellDurable(ctx.self, { type: "rewrite" });
    return { version, parts: Array.from({ length: 20 }, () => fill.repeat(10_000)) };
  },
  persistence: { state: BlobState, messages: BlobMsg },
};

const SetState = z.object({ elements: z.array(z.string()) });
const SetMsg = z.object({ type: z.literal("append"), value: z.string() });
const set: Behavior<z.infer<typeof SetState>, z.infer<typeof SetMsg>> = {
  kind: "set",
  init: () => ({ elements: [] }),
  receive: (s, m) => ({ elements: [...s.elements, m.value] }),
  persistence: { state: SetState, messages: SetMsg },
};

const hang = flags.values.hang;
const system = await ActorSystem.start({
  kvPath: flags.values.kv as string,
  nodeId: flags.values.node as string,
  leaseTtlMs: Number(flags.values["lease-ttl"]),
  forwardDelayMs: 100,
  retryScheduleMs: (flags.values.retries as string).split(",").map(Number),
  behaviors: [counter, timer, blob, set],
  faults: {
    async beforeCommit(addr, id) {
      if (hang === "before_commit") {
        out(`BEFORE_COMMIT ${addr} ${id}`);
        await hangForever();
      }
    },
    async afterCommit(addr, id) {
      out(`COMMITTED ${addr} ${id}`);
      if (hang === "after_commit") await hangForever();
    },
    onDuplicate(addr, id) {
      out(`DUPLICATE ${addr} ${id}`);
    },
  },
});

for (const id of flags.values.add as string[]) {
  await system.tellDurable("counter/c", { type: "add", n: 1, from: flags.values.node }, { id });
  out(`SENT ${id}`);
}
async function sendAdds(spec: string): Promise<void> {
  const [prefix, n] = spec.split(":");
  for (let i = 0; i < Number(n); i++) {
    await system.tellDurable("counter/shared", { type: "add", n: 1, from: flags.values.node }, {
      id: `${prefix}-${i}`,
    });
  }
  out(`SENT ${prefix} ${n}`);
}
if (flags.values["send-adds"] !== undefined) await sendAdds(flags.values["send-adds"] as string);
if (flags.values["on-usr1"] !== undefined) {
  const spec = flags.values["on-usr1"] as string;
  Deno.addSignalListener("SIGUSR1", () => void sendAdds(spec));
}
if (flags.values.timer !== undefined) {
  const delayMs = Number(flags.values.timer);
  await system.tellDurable("timer/t", { type: "fire", dueAtMs: Date.now() + delayMs }, { delayMs });
  out(`SCHEDULED ${delayMs}`);
}
if (flags.values.blob) await system.tellDurable("blob/b", { type: "rewrite" });
if (flags.values.append !== undefined) {
  const incarnation = flags.values.append as string;
  const actors = Number(flags.values.actors);
  const random = mulberry32(Number(flags.values.seed));
  void (async () => {
    for (let i = 0;; i++) {
      const value = `${incarnation}:${i}`;
      const k = Math.floor(random() * actors);
      await system.tellDurable(`set/${k}`, { type: "append", value }, { id: value });
      out(`ACK ${k} ${value}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
}
out("READY");
installShutdownHandlers(system, { deadlineMs: 2_000 });
