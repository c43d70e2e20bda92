// Summaries of repeated runs: the median is reported, min and max show the spread.

export interface Summary {
  median: number;
  min: number;
  max: number;
  /** (max - min) / median, so spreads of different metrics compare */
  spread: number;
  runs: number[];
}

export function median(xs: number[]): number {
  if (xs.length === 0) return Number.NaN;
  const a = [...xs].sort((x, y) => x - y);
  const mid = Math.floor(a.length / 2);
  return a.length % 2 ? (a[mid] as number) : ((a[mid - 1] as number) + (a[mid] as number)) / 2;
}

export function summarize(xs: number[]): Summary {
  const m = median(xs);
  const min = Math.min(...xs);
  const max = Math.max(...xs);
  return { median: m, min, max, spread: m ? (max - min) / m : 0, runs: xs };
}

export function round(x: number, digits = 3): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
