// From the policies that apply to a request to one atomic store batch, plus what each entry means so
// a denial can name the limit and completion can reconcile each window with the real usage.
//
// Counter keys: <prefix>{<namespace>}:<policy>:<what>[:<window id>][:k:<caller>]
// The namespace is the Redis Cluster hash tag, so one request's keys always live on one shard. Names
// of namespaces and policies cannot hold ':', '{' or '}' (config/schema_shared.ts), and a caller token
// holds none of them (policy/caller.ts), so two (namespace, policy, caller) triples never share a key.
import { randomUUID } from 'node:crypto';
import type { Usage } from '../providers/types.ts';
import type { AdmitBatch } from '../store/types.ts';
import { type WindowName, windowLengthMs, windowSpan } from '../store/windows.ts';
import { ANONYMOUS_CALLER } from './caller.ts';
import type { CompiledPolicy } from './compile.ts';
import type { UnitPrices } from './pricing.ts';

export type LimitKind = 'requests' | 'concurrency' | 'tokens' | 'budget';
export type Measure = 'input' | 'output' | 'total' | 'usd';

// A request's id names its reservation record and its concurrency slots, across replicas and restarts:
// a random prefix per process and a counter are as unique as a UUID per request, for one short string
// where randomUUID() concatenates ~20 (~1 KiB allocated per request: bench/alloc.ts --profile).
const ID_PREFIX = randomUUID().replaceAll('-', '').slice(0, 16);
let idCounter = 0;

/** A fresh request id for buildBatch: never the same twice in any process, on any replica. */
export function reservationId(): string {
  idCounter = idCounter === Number.MAX_SAFE_INTEGER ? 0 : idCounter + 1;
  return ID_PREFIX + idCounter.toString(36);
}

/** A concurrency slot outlives its request only if the replica died; then the lease frees it. */
export const CONCURRENCY_LEASE_MS = 30 * 60_000;
/** Window counters live a little past their end so late settlements still find them. */
const WINDOW_SLACK_MS = 10_000;

export interface RateRef {
  policy: string;
  limit: number;
  window: WindowName;
  burst: number;
}

export interface ConcurrencyRef {
  policy: string;
  max: number;
}

export interface WindowRef {
  policy: string;
  measure: Measure;
  limit: number;
  window: WindowName;
}

export interface BuiltBatch {
  batch: AdmitBatch;
  rates: RateRef[];
  concurrency: ConcurrencyRef[];
  windows: WindowRef[];
}

export interface BatchInput {
  namespace: string;
  /** Identity.caller: undefined for a keyless caller */
  caller: string | undefined;
  policies: CompiledPolicy[];
  inputTokens: number;
  prices: UnitPrices | undefined;
  wantOutput: number;
  /** completions asked for (`n`): every output token granted is produced once per choice */
  choices?: number;
  now: number;
  requestId: string;
}

function scopeKey(ns: string, policy: CompiledPolicy, caller: string | undefined): (what: string) => string {
  const base = `{${ns}}:${policy.name}:`;
  const perKey = policy.config.scope?.perApiKey ? `:k:${caller ?? ANONYMOUS_CALLER}` : '';
  return (what) => base + what + perKey;
}

export function buildBatch(input: BatchInput): BuiltBatch {
  const out: BuiltBatch = {
    batch: { rates: [], concurrency: [], windows: [], wantOutput: 0 },
    rates: [],
    concurrency: [],
    windows: [],
  };
  const { batch } = out;
  let hasOutputWindow = false;
  const choices = Math.max(1, input.choices ?? 1);
  for (const p of input.policies) {
    const key = scopeKey(input.namespace, p, input.caller);
    const c = p.config;
    if (c.requests) {
      const burst = c.requests.burst ?? c.requests.limit;
      batch.rates.push({
        // A GCRA bucket's state is time debt at its own rate: a changed limit starts a new bucket.
        key: key(`rq:${c.requests.limit}/${c.requests.window}/${burst}`),
        emissionMs: windowLengthMs(c.requests.window) / c.requests.limit,
        burst,
      });
      out.rates.push({ policy: p.name, limit: c.requests.limit, window: c.requests.window, burst });
    }
    if (c.concurrency) {
      batch.concurrency.push({
        key: key('cc'),
        max: c.concurrency.max,
        id: input.requestId,
        leaseMs: CONCURRENCY_LEASE_MS,
      });
      out.concurrency.push({ policy: p.name, max: c.concurrency.max });
    }
    const addWindow = (
      measure: Measure,
      limit: number,
      window: WindowName,
      fixed: number,
      perOutput: number,
    ) => {
      const span = windowSpan(window, input.now);
      batch.windows.push({
        key: key(`${measure}:${span.id}`),
        limit,
        fixed,
        perOutput,
        ttlMs: span.endMs - input.now + WINDOW_SLACK_MS,
        resetMs: span.endMs - input.now,
      });
      out.windows.push({ policy: p.name, measure, limit, window });
      if (perOutput > 0) hasOutputWindow = true;
    };
    for (const t of c.tokens ?? []) {
      const fixed = t.kind === 'output' ? 0 : input.inputTokens;
      const perOutput = t.kind === 'input' ? 0 : choices;
      addWindow(t.kind, t.limit, t.window, fixed, perOutput);
    }
    if (c.budget) {
      const prices = input.prices ?? { input: 0, output: 0 };
      addWindow(
        'usd',
        c.budget.usd * 1e6,
        c.budget.window,
        input.inputTokens * prices.input,
        prices.output * choices,
      );
    }
  }
  batch.wantOutput = hasOutputWindow ? input.wantOutput : 0;
  if (batch.windows.length > 0 || batch.concurrency.length > 0)
    batch.reservation = { key: `{${input.namespace}}:rsv:${input.requestId}`, ttlMs: CONCURRENCY_LEASE_MS };
  return out;
}

/** What a completed request really used, per window measure (micro-USD for budgets). */
export function actualAmount(measure: Measure, usage: Usage | undefined, costMicroUsd: number): number {
  if (!usage) return 0;
  switch (measure) {
    case 'input':
      return usage.inputTokens;
    case 'output':
      return usage.outputTokens;
    case 'total':
      return usage.inputTokens + usage.outputTokens;
    case 'usd':
      return costMicroUsd;
  }
}

const PER: Record<WindowName, string> = {
  second: 'per second',
  minute: 'per minute',
  hour: 'per hour',
  day: 'per day',
  month: 'per calendar month',
};

export function describeWindow(ref: WindowRef): string {
  if (ref.measure === 'usd') return `a budget of ${(ref.limit / 1e6).toFixed(2)} USD ${PER[ref.window]}`;
  return `${ref.limit} ${ref.measure} tokens ${PER[ref.window]}`;
}

export function describeRate(ref: RateRef): string {
  return `${ref.limit} requests ${PER[ref.window]}`;
}
