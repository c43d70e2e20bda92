// The wire side of the admission protocol (docs/policies.md "Admission protocol"): script arguments,
// replies, the operations replayed when Redis is back, the fail-open share, and the time bounds.
import type { AdmitBatch, AdmitResult, SettleBatch } from './types.ts';

/** The longest a request waits on one command, event-loop delay included. */
export const maxWaitMs = (commandTimeoutMs: number) => Math.max(2_000, 10 * commandTimeoutMs);
/** When ioredis itself gives up on a command: its reply is then lost and the outcome stays unknown. */
export const lateReplyMs = (commandTimeoutMs: number) => Math.max(10_000, 40 * commandTimeoutMs);

/** The local share of a limit while Redis is away: each of N replicas takes limit/N. */
export function scaleBatch(batch: AdmitBatch, replicas: number): AdmitBatch {
  if (replicas <= 1) return batch;
  return {
    ...batch,
    rates: batch.rates.map((r) => ({
      ...r,
      emissionMs: r.emissionMs * replicas,
      burst: Math.max(1, Math.floor(r.burst / replicas)),
    })),
    concurrency: batch.concurrency.map((c) => ({ ...c, max: Math.max(1, Math.floor(c.max / replicas)) })),
    windows: batch.windows.map((w) => ({ ...w, limit: w.limit / replicas })),
  };
}

export class CancelledAdmission extends Error {}

export function parseAdmitReply(raw: unknown): AdmitResult {
  const r = JSON.parse(String(raw)) as {
    ok: boolean;
    kind?: 'rate' | 'concurrency' | 'window' | 'cancelled';
    index?: number;
    retry?: number;
    grant?: number;
    rates?: unknown;
    /** a number on denial (units used in the denying window), a list on success */
    used?: unknown;
  };
  if (!r.ok) {
    if (r.kind === 'cancelled') throw new CancelledAdmission('reservation was cancelled');
    return {
      ok: false,
      kind: r.kind ?? 'rate',
      index: r.index ?? 0,
      retryAfterMs: r.retry ?? 1_000,
      ...(typeof r.used === 'number' ? { used: r.used } : {}),
    };
  }
  // cjson encodes an empty Lua table as {} rather than [].
  const rates = Array.isArray(r.rates) ? (r.rates as Array<[number, number]>) : [];
  return {
    ok: true,
    grant: r.grant ?? 0,
    rates: rates.map(([remaining, resetMs]) => ({ remaining, resetMs })),
    windowsUsed: Array.isArray(r.used) ? (r.used as number[]) : [],
  };
}

/** KEYS and ARGV[1] of ADMIT_LUA (and CANCEL_LUA, which takes the same). */
export function admitArgs(batch: AdmitBatch): { keys: string[]; spec: string } {
  const keys = [
    ...batch.rates.map((r) => r.key),
    ...batch.concurrency.map((c) => c.key),
    ...batch.windows.map((w) => w.key),
  ];
  if (batch.reservation) keys.push(batch.reservation.key);
  const spec = JSON.stringify({
    r: batch.rates.map((r) => [r.emissionMs, r.burst]),
    c: batch.concurrency.map((c) => [c.max, c.id, c.leaseMs]),
    w: batch.windows.map((w) => [w.limit, w.fixed, w.perOutput, w.ttlMs, w.resetMs]),
    o: batch.wantOutput,
    ...(batch.reservation ? { v: batch.reservation.ttlMs } : {}),
  });
  return { keys, spec };
}

/** The hash tag ("{ns}") a key lives under, so an id key lands on the same Cluster slot. */
export const hashTag = (key: string) => key.slice(0, key.indexOf('}') + 1);

export type ReplayOp =
  | { kind: 'settle'; batch: SettleBatch }
  | { kind: 'cancel'; keys: string[]; spec: string; granted: boolean }
  | { kind: 'merge'; key: string; id: string; delta: number; expireAt: number };
