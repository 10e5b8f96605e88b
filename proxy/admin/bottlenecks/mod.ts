/** Per-turn bottleneck analysis: the breakdown of a record, the figures over turns, the rules and `GET /api/bottlenecks`'s answer. */
export { type TurnBreakdown, turnBreakdown, wallMs } from "./breakdown.ts";
export { componentShares, type TurnStats, turnStats } from "./turn_stats.ts";
export { type BottleneckRule, MIN_TURNS, RULES, THRESHOLDS } from "./rules.ts";
export { analyzeBottlenecks, type AnalyzeOptions } from "./analyze.ts";
