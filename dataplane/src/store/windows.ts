// Fixed, calendar-aligned windows in UTC for token and cost counters: a "day" is a UTC day and a
// "month" a calendar month (28-31 days), so budgets match how providers bill. Every replica derives the
// same window id from its clock, so they all count into the same Redis key.
export type WindowName = 'second' | 'minute' | 'hour' | 'day' | 'month';

export interface WindowSpan {
  /** stable id used in counter keys */
  id: string;
  startMs: number;
  endMs: number;
}

const FIXED_MS: Record<Exclude<WindowName, 'month'>, number> = {
  second: 1_000,
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
};

/** Length of a window for rate computations (a month counts as 30 days there). */
export function windowLengthMs(w: WindowName): number {
  return w === 'month' ? 30 * FIXED_MS.day : FIXED_MS[w];
}

export function windowSpan(w: WindowName, now: number): WindowSpan {
  if (w === 'month') {
    const d = new Date(now);
    const y = d.getUTCFullYear();
    const m = d.getUTCMonth();
    return {
      id: `M${y}${String(m + 1).padStart(2, '0')}`,
      startMs: Date.UTC(y, m, 1),
      endMs: Date.UTC(y, m + 1, 1),
    };
  }
  const len = FIXED_MS[w];
  const n = Math.floor(now / len);
  return { id: `${w[0]}${n}`, startMs: n * len, endMs: (n + 1) * len };
}

/**
 * Durations the way OpenAI writes x-ratelimit-reset-*: "20ms", "1s", "6m0s", "1h2m3s".
 * Sub-second values keep milliseconds; longer ones round up to whole seconds.
 */
export function formatDuration(ms: number): string {
  if (ms <= 0) return '0s';
  if (ms < 1_000) return `${Math.ceil(ms)}ms`;
  let s = Math.ceil(ms / 1_000);
  const h = Math.floor(s / 3_600);
  s -= h * 3_600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}
