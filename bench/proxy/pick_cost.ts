/** What one routing decision costs on the hot path, measured in process. */
import { ActorSystem } from "../../actors/runtime/mod.ts";
import { backendProbed, backendReport, newBackendState } from "../../actors/backend/mod.ts";
import {
  type BackendView,
  createPicker,
  ModelRouter,
  requestFeatures,
  routerBehavior,
  type RouterMessage,
  RoutingTable,
  strategyOptions,
} from "../../actors/router/mod.ts";
import { ProxySchema } from "../../config/mod.ts";
/** Cost of one routing decision on the hot path: a direct call into the router's view vs a local actor ask. */
export interface PickCost {
  directUs: number;
  askUs: number;
  picks: number;
}

/** Measures a pick both ways, in process, with `strategy` over two backends. */
export async function measurePick(strategy: string, picks = 20_000): Promise<PickCost> {
  const proxy = ProxySchema.parse({ strategy });
  const router = new ModelRouter("bench", createPicker(proxy.strategy, strategyOptions(proxy)));
  const body = { model: "bench", messages: [{ role: "user", content: "Say ok." }] };
  const features = requestFeatures(body, {
    sessionId: undefined,
    blockChars: proxy.prefix_block_chars,
  });
  const system = await ActorSystem.start();
  try {
    const ref = system.spawn(
      routerBehavior({
        model: "bench",
        router,
        healthIntervalMs: 30_000,
        scrapeIntervalMs: 2_000,
        failureThreshold: 3,
        openMs: 10_000,
      }),
      "bench",
    );
    // Two healthy backends published straight into the table, with no BackendActors behind them.
    const circuit = { failureThreshold: 3, openMs: 1000 };
    let table = RoutingTable.EMPTY;
    for (const id of ["a", "b"]) {
      const url = `http://127.0.0.1/${id}`;
      const state = newBackendState({ id, model: "bench", url, source: "static" });
      const address = `bench/${id}`;
      table = table.put(
        { id, url, source: "static", address, ttlMs: undefined, expiresAtMs: undefined },
        backendReport(backendProbed(state, true, 0, circuit), 0, circuit),
        { actor: system.ref(address), inFlight: { value: 0 } },
      );
    }
    router.publish(table);
    const timeDirect = () => {
      const t = performance.now();
      for (let i = 0; i < picks; i++) router.pick(features);
      return (performance.now() - t) * 1000 / picks;
    };
    const timeAsk = async () => {
      const t = performance.now();
      for (let i = 0; i < picks; i++) {
        await ref.ask<BackendView | undefined>({ type: "pick", features } satisfies RouterMessage);
      }
      return (performance.now() - t) * 1000 / picks;
    };
    timeDirect();
    await timeAsk();
    return { directUs: timeDirect(), askUs: await timeAsk(), picks };
  } finally {
    await system.shutdown();
  }
}

/** The verdicts on the targets for one turnpike target, from one run's matrix. */
