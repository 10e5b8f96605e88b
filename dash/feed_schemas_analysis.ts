/**
 * The analysis endpoints the dashboards show, as proxy/admin/api_types.ts defines them:
 * `/api/bottlenecks`, `/api/sessions`, `/api/slo` and `/api/routing`.
 */
import { z } from "zod";

const nullableNumber = z.number().nullable().catch(null);

/** One component's share of the turns' time. */
export const ComponentShare = z.object({
  component: z.string(),
  share: z.number(),
  total_ms: z.number().catch(0),
  p50_ms: nullableNumber,
  p95_ms: nullableNumber,
  turns: z.number().catch(0),
});

/** One finding: its cause and what to change. */
export const Finding = z.object({
  rule: z.string(),
  severity: z.string().catch("info"),
  model: z.string().nullable().catch(null),
  cause: z.string(),
  recommendation: z.string(),
  evidence: z.record(z.string(), z.number()).catch({}),
});

/** A finding as the dashboards read it. */
export type Finding = z.infer<typeof Finding>;

/** `GET /api/bottlenecks`. */
export const BottlenecksBody = z.object({
  window_s: z.number().catch(0),
  turns: z.number().catch(0),
  wall_ms: z.number().catch(0),
  components: z.array(ComponentShare),
  findings: z.array(Finding),
});

/** `GET /api/bottlenecks`'s body. */
export type BottlenecksBody = z.infer<typeof BottlenecksBody>;

/** One session of `GET /api/sessions`. */
export const SessionRow = z.object({
  session_id: z.string(),
  task_id: z.string().nullable().catch(null),
  client_id: z.string().nullable().catch(null),
  model: z.string().catch("?"),
  turns: z.number().catch(0),
  first_turn_at: z.string().catch(""),
  last_turn_at: z.string().catch(""),
  last_turn_ms: z.number().catch(0),
  prompt_tokens: z.number().catch(0),
  completion_tokens: z.number().catch(0),
  backend: z.string().nullable().catch(null),
  errors: z.number().catch(0),
});

/** A session as the dashboards read it. */
export type SessionRow = z.infer<typeof SessionRow>;

/** `GET /api/sessions`. */
export const SessionsBody = z.object({ total: z.number().catch(0), data: z.array(SessionRow) });

/** One objective of one model's SLO. */
export const SloObjective = z.object({
  objective: z.string(),
  target: z.number(),
  value: nullableNumber,
  burn: nullableNumber,
  violated: z.boolean().catch(false),
  samples: z.number().catch(0),
  violations_total: z.number().catch(0),
});

/** `GET /api/slo`. */
export const SloBody = z.object({
  models: z.array(z.object({
    model: z.string(),
    window_s: z.number().catch(0),
    burn: nullableNumber,
    objectives: z.array(SloObjective),
  })),
});

/** `GET /api/slo`'s body. */
export type SloBody = z.infer<typeof SloBody>;

/**
 * A strategy as `/api/routing` names it (`StrategySpec`): a name, or weights by name, shown as
 * `prefix_aware 0.7 + least_loaded 0.3`.
 */
const Strategy = z.union([
  z.string(),
  z.record(z.string(), z.number()).transform((weights) =>
    Object.entries(weights).map(([name, weight]) => `${name} ${weight}`).join(" + ")
  ),
]);

/** `GET /api/routing`. */
export const RoutingBody = z.object({
  models: z.array(z.object({
    model: z.string(),
    strategy: Strategy,
    canary: z.object({
      strategy: Strategy,
      share: z.number(),
      ends_at: z.string().catch(""),
      canary_burn: nullableNumber,
      incumbent_burn: nullableNumber,
    }).nullable().catch(null),
  })),
});

/** `GET /api/routing`'s body. */
export type RoutingBody = z.infer<typeof RoutingBody>;
