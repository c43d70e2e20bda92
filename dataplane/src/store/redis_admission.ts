// The wire side of the admission protocol (docs/policies.md "Admission protocol"): script arguments,
// replies, the operations replayed when Redis is back, and the time bounds.
// Arguments are written straight into the one array a script call sends (no per-request key lists),
// and the specs are JSON written by hand from the batch (no intermediate arrays of numbers).
import type { AdmitBatch, AdmitResult, SettleBatch } from './types.ts';

/** The longest a request waits on one command, event-loop delay included. */
export const maxWaitMs = (commandTimeoutMs: number) => Math.max(2_000, 10 * commandTimeoutMs);
/** When ioredis itself gives up on a command: its reply is then lost and the outcome stays unknown. */
export const lateReplyMs = (commandTimeoutMs: number) => Math.max(10_000, 40 * commandTimeoutMs);

export class CancelledAdmission extends Error {}

/** Redis answered, but refused this one batch (a key of the wrong type): nothing of it was written. */
export class RefusedBatch extends Error {
  constructor(reason: string) {
    super(`Redis refused the batch: ${reason}`);
    this.name = 'RefusedBatch';
  }
}

/** One batch's entry of ADMIT_MANY's reply: an AdmitResult as it is, or why there is none. */
export type AdmitReply =
  | AdmitResult
  | { ok: false; kind: 'cancelled' }
  | { ok: false; kind: 'error'; error: string };

/** The result in one batch's reply entry, used as parsed (no copy). */
export function admitResult(r: AdmitReply): AdmitResult {
  if (r.ok) {
    // cjson encodes an empty Lua table as {} rather than []
    if (!Array.isArray(r.rates)) r.rates = [];
    if (!Array.isArray(r.windowsUsed)) r.windowsUsed = [];
    return r;
  }
  if (r.kind === 'cancelled') throw new CancelledAdmission('reservation was cancelled');
  if (r.kind === 'error') throw new RefusedBatch(r.error);
  return r;
}

/** ADMIT_MANY's reply: one JSON array, parsed once for all the batches of the call. */
export function parseAdmitReplies(raw: unknown, count: number): AdmitReply[] {
  const list = JSON.parse(String(raw)) as unknown;
  if (!Array.isArray(list) || list.length !== count)
    throw new Error(`admission reply has ${Array.isArray(list) ? list.length : 'no'} entries for ${count}`);
  return list as AdmitReply[];
}

/** A finite number as JSON writes it (a NaN or infinity would be null, which no script can use). */
function num(n: number): string {
  if (!Number.isFinite(n)) throw new Error(`not a finite number: ${n}`);
  return String(n);
}

/** Appends one batch's KEYS of ADMIT_MANY (and CANCEL_LUA, which takes the same) to `out`. */
export function pushAdmitKeys(batch: AdmitBatch, prefix: string, out: Array<string | number>): void {
  for (const r of batch.rates) out.push(prefix + r.key);
  for (const c of batch.concurrency) out.push(prefix + c.key);
  for (const w of batch.windows) out.push(prefix + w.key);
  if (batch.reservation) out.push(prefix + batch.reservation.key);
}

/** One batch's ARGV entry of ADMIT_MANY (and ARGV[1] of CANCEL_LUA). */
export function admitSpec(batch: AdmitBatch): string {
  let r = '';
  for (const x of batch.rates) r += `${r ? ',' : ''}[${num(x.emissionMs)},${num(x.burst)}]`;
  let c = '';
  for (const x of batch.concurrency)
    c += `${c ? ',' : ''}[${num(x.max)},${JSON.stringify(x.id)},${num(x.leaseMs)}]`;
  let w = '';
  for (const x of batch.windows)
    w += `${w ? ',' : ''}[${num(x.limit)},${num(x.fixed)},${num(x.perOutput)},${num(x.ttlMs)},${num(x.resetMs)}]`;
  const v = batch.reservation ? `,"v":${num(batch.reservation.ttlMs)}` : '';
  return `{"r":[${r}],"c":[${c}],"w":[${w}],"o":${num(batch.wantOutput)}${v}}`;
}

/** Appends one batch's KEYS of SETTLE_MANY to `out`. */
export function pushSettleKeys(batch: SettleBatch, prefix: string, out: Array<string | number>): void {
  for (const w of batch.windows) out.push(prefix + w.key);
  for (const c of batch.concurrency) out.push(prefix + c.key);
  if (batch.reservation !== undefined) out.push(prefix + batch.reservation);
}

/** One batch's ARGV entry of SETTLE_MANY. */
export function settleSpec(batch: SettleBatch): string {
  let w = '';
  for (const x of batch.windows) w += `${w ? ',' : ''}${num(x.delta)}`;
  let c = '';
  for (const x of batch.concurrency) c += `${c ? ',' : ''}${JSON.stringify(x.id)}`;
  return `{"w":[${w}],"c":[${c}]${batch.reservation !== undefined ? ',"v":1' : ''}}`;
}

/** The hash tag ("{ns}") a key lives under, so an id key lands on the same Cluster slot. */
export const hashTag = (key: string) => key.slice(0, key.indexOf('}') + 1);

/**
 * What decides a key's Redis Cluster slot: the content of its hash tag (the first "{...}" with
 * something inside), else the whole key. Batches coalesced into one call on a Cluster share it.
 */
export function slotGroup(key: string): string {
  const open = key.indexOf('{');
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) return key.slice(open + 1, close);
  }
  return key;
}

export type ReplayOp =
  | { kind: 'settle'; batch: SettleBatch }
  | { kind: 'cancel'; batch: AdmitBatch; spec: string; granted: boolean }
  | { kind: 'merge'; key: string; id: string; delta: number; expireAt: number };
