/** Which request records a query wants: by session, task, client, model, backend, route or status. */
import type { RequestRecord } from "./records.ts";

/** A status class, `2xx` to `5xx`. */
export type StatusClass = `${1 | 2 | 3 | 4 | 5}xx`;

/** The fields a record must match; an absent field matches every record. */
export interface RecordFilter {
  sessionId?: string;
  taskId?: string;
  clientId?: string;
  model?: string;
  backendId?: string;
  endpoint?: string;
  /** An exact status (`502`) or a class (`5xx`). */
  status?: number | StatusClass;
}

/** Whether `record` matches every field `filter` sets. */
export function matchesRecord(record: RequestRecord, filter: RecordFilter): boolean {
  if (filter.sessionId !== undefined && record.sessionId !== filter.sessionId) return false;
  if (filter.taskId !== undefined && record.taskId !== filter.taskId) return false;
  if (filter.clientId !== undefined && record.clientId !== filter.clientId) return false;
  if (filter.model !== undefined && record.model !== filter.model) return false;
  if (filter.backendId !== undefined && record.backendId !== filter.backendId) return false;
  if (filter.endpoint !== undefined && record.endpoint !== filter.endpoint) return false;
  const status = filter.status;
  if (typeof status === "number") return record.status === status;
  if (status !== undefined) return `${Math.floor(record.status / 100)}xx` === status;
  return true;
}
