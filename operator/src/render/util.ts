// Small helpers shared by the per-kind renderers.
import type { TimeoutsSpec } from '../api/common.ts';
import { durationMs } from '../api/common.ts';

/** Drop undefined values (and empty objects) so the rendered YAML only says what was set. */
export function compact<T extends Record<string, unknown>>(obj: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (v === undefined) continue;
    if (v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0) continue;
    out[k] = v;
  }
  return out as T;
}

export function ms(d: string | undefined): number | undefined {
  return d === undefined ? undefined : durationMs(d);
}

export function renderTimeouts(t: TimeoutsSpec | undefined) {
  if (!t) return undefined;
  const out = compact({
    connectMs: ms(t.connect),
    firstByteMs: ms(t.firstByte),
    idleMs: ms(t.idle),
    totalMs: ms(t.total),
  });
  return Object.keys(out).length ? out : undefined;
}
