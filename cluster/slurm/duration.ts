/** SLURM's time-limit syntax (`--time`, squeue `%l`, sacct `Timelimit`) to and from seconds. */

/**
 * Parses a SLURM duration into seconds: `minutes`, `minutes:seconds`, `hours:minutes:seconds`,
 * `days-hours`, `days-hours:minutes`, `days-hours:minutes:seconds` (the forms sbatch's `--time`
 * accepts, as its man page lists them). `UNLIMITED`, `INFINITE` and `Partition_Limit` give
 * `null`: no limit of the job's own. Anything else gives `undefined`.
 *
 * @example parseSlurmDuration("1-02:03:04") // 93784
 * @example parseSlurmDuration("30") // 1800 (minutes)
 */
export function parseSlurmDuration(text: string): number | null | undefined {
  const value = text.trim();
  if (/^(UNLIMITED|INFINITE|Partition_Limit)$/i.test(value)) return null;
  const dayForm = /^(\d+)-(\d+)(?::(\d+))?(?::(\d+))?$/.exec(value);
  if (dayForm) {
    const [, days, hours, minutes, seconds] = dayForm;
    return Number(days) * 86_400 + Number(hours) * 3_600 + Number(minutes ?? 0) * 60 +
      Number(seconds ?? 0);
  }
  const parts = /^\d+(:\d+){0,2}$/.test(value) ? value.split(":").map(Number) : undefined;
  if (!parts) return undefined;
  const [a = 0, b = 0, c = 0] = parts;
  if (parts.length === 1) return a * 60;
  if (parts.length === 2) return a * 60 + b;
  return a * 3_600 + b * 60 + c;
}

/** Writes seconds the way SLURM does (`D-HH:MM:SS`, or `HH:MM:SS` under a day). */
export function formatSlurmDuration(seconds: number): string {
  const whole = Math.max(0, Math.round(seconds));
  const days = Math.floor(whole / 86_400);
  const pad = (n: number) => String(n).padStart(2, "0");
  const clock = `${pad(Math.floor((whole % 86_400) / 3_600))}:${
    pad(Math.floor((whole % 3_600) / 60))
  }:${pad(whole % 60)}`;
  return days > 0 ? `${days}-${clock}` : clock;
}
