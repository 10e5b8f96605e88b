/** `GET /api/sessions`'s rows from request records: one per session header value, its turns, tokens, last replica. */
import type { RequestRecord } from "../records.ts";
import type { SessionSummary } from "./api_types.ts";

/** Options of {@linkcode sessionSummaries}. */
export interface SessionSummaryOptions {
  /** Only sessions with a turn that started at or after this time, in ms since the epoch. */
  sinceMs: number;
  /** Only turns of this model. */
  model?: string;
}

/** The sessions of `records` (any order), the most recently active first. */
export function sessionSummaries(
  records: Iterable<RequestRecord>,
  options: SessionSummaryOptions,
): SessionSummary[] {
  const byId = new Map<string, { row: SessionSummary; firstMs: number; lastMs: number }>();
  for (const r of records) {
    const id = r.sessionId;
    if (id === undefined) continue;
    if (options.model !== undefined && r.model !== options.model) continue;
    let entry = byId.get(id);
    if (entry === undefined) {
      entry = {
        firstMs: r.startedAtMs,
        lastMs: -Infinity,
        row: {
          session_id: id,
          task_id: null,
          client_id: null,
          model: r.model,
          turns: 0,
          first_turn_at: "",
          last_turn_at: "",
          last_turn_ms: 0,
          prompt_tokens: 0,
          completion_tokens: 0,
          backend: null,
          errors: 0,
        },
      };
      byId.set(id, entry);
    }
    const row = entry.row;
    row.turns++;
    row.prompt_tokens += r.promptTokens ?? 0;
    row.completion_tokens += r.completionTokens ?? 0;
    if (r.status >= 400) row.errors++;
    entry.firstMs = Math.min(entry.firstMs, r.startedAtMs);
    if (r.startedAtMs >= entry.lastMs) {
      entry.lastMs = r.startedAtMs;
      row.task_id = r.taskId ?? null;
      row.client_id = r.clientId ?? null;
      row.model = r.model;
      row.last_turn_ms = r.totalMs;
      row.backend = r.backendId ?? null;
    }
  }
  const rows: { row: SessionSummary; lastMs: number }[] = [];
  for (const { row, firstMs, lastMs } of byId.values()) {
    if (lastMs < options.sinceMs) continue;
    row.first_turn_at = new Date(firstMs).toISOString();
    row.last_turn_at = new Date(lastMs).toISOString();
    rows.push({ row, lastMs });
  }
  rows.sort((a, b) => b.lastMs - a.lastMs || a.row.session_id.localeCompare(b.row.session_id));
  return rows.map((r) => r.row);
}
