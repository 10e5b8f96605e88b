/** `GET /api/bottlenecks`'s answer from request records: where the turns' time went and the findings of every rule, per model. */
import type { RequestRecord } from "../../records.ts";
import type { BottleneckFinding, BottlenecksResponse, FindingSeverity } from "../api_types.ts";
import { MIN_TURNS, RULES } from "./rules.ts";
import { componentShares, turnStats } from "./turn_stats.ts";

/** Options of {@linkcode analyzeBottlenecks}. */
export interface AnalyzeOptions {
  /** The window, in seconds back from `nowMs`. */
  windowS: number;
  /** The time the window ends, in ms since the epoch. */
  nowMs: number;
  session?: string;
  task?: string;
  model?: string;
}

const SEVERITY_RANK: Record<FindingSeverity, number> = { critical: 0, warning: 1, info: 2 };

/** The share a finding is about (its largest `_share` figure), for ranking equally severe ones. */
function weight(finding: BottleneckFinding): number {
  let best = 0;
  for (const [name, value] of Object.entries(finding.evidence)) {
    if (name.endsWith("_share") || name === "error_rate") best = Math.max(best, value);
  }
  return best;
}

/**
 * Analyses the records that started within the window and match the filters: the component
 * shares over all of them, and each rule on each model with at least {@linkcode MIN_TURNS}
 * answered turns; findings ranked by severity, then by the share they are about.
 */
export function analyzeBottlenecks(
  records: Iterable<RequestRecord>,
  options: AnalyzeOptions,
): BottlenecksResponse {
  const since = options.nowMs - options.windowS * 1000;
  const chosen: RequestRecord[] = [];
  const byModel = new Map<string, RequestRecord[]>();
  for (const r of records) {
    if (r.startedAtMs < since || r.model === "") continue;
    if (options.session !== undefined && r.sessionId !== options.session) continue;
    if (options.task !== undefined && r.taskId !== options.task) continue;
    if (options.model !== undefined && r.model !== options.model) continue;
    chosen.push(r);
    const list = byModel.get(r.model);
    if (list) list.push(r);
    else byModel.set(r.model, [r]);
  }
  const overall = turnStats(chosen, null);
  const findings: BottleneckFinding[] = [];
  for (const [model, list] of byModel) {
    const stats = turnStats(list, model);
    if (stats.turns < MIN_TURNS) continue;
    for (const rule of RULES) {
      const found = rule(stats);
      if (found) findings.push(found);
    }
  }
  findings.sort((a, b) =>
    SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] || weight(b) - weight(a)
  );
  return {
    window_s: options.windowS,
    filters: {
      session: options.session ?? null,
      task: options.task ?? null,
      model: options.model ?? null,
    },
    turns: overall.turns,
    wall_ms: Math.round(overall.wallMs * 100) / 100,
    components: componentShares(overall),
    findings,
  };
}
