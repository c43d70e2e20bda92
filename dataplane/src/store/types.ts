// The shared-state contract behind every limit. One admission is ONE atomic batch: all request-rate
// buckets, concurrency slots and token/cost windows a request touches are checked together and either
// all charged or none, so a request rejected by its token budget does not burn a request slot and two
// replicas can never both take the last unit of a budget. Both stores (memory, Redis) implement exactly
// these semantics; store/contract.test-suite.ts runs the same cases against each.

/** GCRA request bucket: `emissionMs` between requests at the sustained rate, `burst` requests at once. */
export interface RateOp {
  key: string;
  emissionMs: number;
  burst: number;
}

/** A concurrency slot held until settle (or until the lease expires if the holder died). */
export interface ConcurrencyOp {
  key: string;
  max: number;
  /** unique per request; the member released on settle */
  id: string;
  leaseMs: number;
}

/**
 * A fixed window counter (tokens or micro-USD). The request needs `fixed` units for sure (its input)
 * plus `perOutput` units for each output token granted. `ttlMs` keeps the key until the window is over.
 */
export interface WindowOp {
  key: string;
  limit: number;
  fixed: number;
  perOutput: number;
  ttlMs: number;
  /** ms until this window resets, for headers and Retry-After */
  resetMs: number;
}

/**
 * The record of one admission, kept by the store until it is settled: what each window was charged.
 * A settlement names it, so a replayed or late settlement is applied at most once, and an admission
 * whose outcome was lost (a reply that never came) can be cancelled by it. `key` shares the batch's
 * hash tag; `ttlMs` outlives any request (a replica that dies mid-request leaves it to expire).
 */
export interface ReservationRef {
  key: string;
  ttlMs: number;
}

export interface AdmitBatch {
  rates: RateOp[];
  concurrency: ConcurrencyOp[];
  windows: WindowOp[];
  /** output tokens the request would like reserved; the grant may be lower (never below 1 if > 0) */
  wantOutput: number;
  /** present when there is something to settle (windows or concurrency slots) */
  reservation?: ReservationRef;
}

export interface RateState {
  remaining: number;
  /** ms until the bucket is full again */
  resetMs: number;
}

export interface AdmitOk {
  ok: true;
  /** output tokens reserved in every window (min over windows of what is left, capped at wantOutput) */
  grant: number;
  rates: RateState[];
  /** units used in each window after this reservation */
  windowsUsed: number[];
}

export interface AdmitDenied {
  ok: false;
  kind: 'rate' | 'concurrency' | 'window';
  /** index into the batch list of that kind */
  index: number;
  retryAfterMs: number;
  /** for a window denial: units already used in that window (for the error message and headers) */
  used?: number;
}

export type AdmitResult = AdmitOk | AdmitDenied;

/**
 * Reconcile: add `delta` (may be negative) to window counters that still exist; free concurrency slots.
 * With `reservation`, the settlement closes that admission: applied only if its record still exists
 * (then removed), so delivering it twice (a replay after a reply that was lost) changes nothing.
 */
export interface SettleBatch {
  windows: Array<{ key: string; delta: number }>;
  concurrency: Array<{ key: string; id: string }>;
  reservation?: string;
}

/** A tenant's share of a shared store's records: its records' bytes at most (the oldest make room). */
export interface TenantBound {
  tenant: string;
  maxBytes: number;
}

export interface StoreHealth {
  type: 'memory' | 'redis';
  healthy: boolean;
  /** 'shared': Redis answers; 'local-fallback': fail-open on a local limit/N share; 'unavailable': fail-closed */
  mode: 'local' | 'shared' | 'local-fallback' | 'unavailable';
  lastError?: string;
  since?: string;
  /** Redis: the scripts are loaded in Redis's script cache (part of being ready) */
  scriptsLoaded?: boolean;
  /** Redis: settlements, cancellations and merges waiting for Redis to answer */
  pendingOps?: number;
}

/** Where an admission was recorded, so its settlement goes to the same place. */
export type Placement = 'primary' | 'fallback';

export interface Store {
  readonly type: 'memory' | 'redis';
  admit(batch: AdmitBatch): Promise<{ result: AdmitResult; placement: Placement }>;
  settle(batch: SettleBatch, placement: Placement): Promise<void>;
  /**
   * L2 response cache; memory stores have none (the L1 is already in memory). A key leads with its
   * tenant (`<namespace>/...`, cache/key.ts), whose entries take at most `maxBytesPerTenant`.
   */
  cacheGet?(key: string): Promise<Buffer | undefined>;
  cacheSet?(key: string, value: Buffer, ttlMs: number, maxBytesPerTenant?: number): Promise<void>;
  /**
   * Shared records (the Responses API's conversation state), each a tenant's: unlike the cache, a
   * failure is thrown, because "not found" and "could not look" must not look alike. Memory stores
   * have none (the records stay in the replica's own bounded memory). `key` is unique in its tenant.
   */
  recordGet?(key: string, tenant: string): Promise<Buffer | undefined>;
  /**
   * several of one tenant's records in one read (in the tenant's slot), in the order of `keys`, only
   * when their stored sizes, `weights[i]` times each, total at most `maxBytes`: checked before any
   * value is read (undefined then, nothing read)
   */
  recordGetWithin?(
    keys: readonly string[],
    tenant: string,
    weights: readonly number[],
    maxBytes: number,
  ): Promise<Array<Buffer | undefined> | undefined>;
  /** false when the value alone is over the tenant's bound (not stored); store/redis_bounded.ts */
  recordSet?(key: string, value: Buffer, ttlMs: number, bound: TenantBound): Promise<boolean>;
  /**
   * removes several of one tenant's records at once (one script), giving their bytes back to the
   * tenant's bound; how many of them were there
   */
  recordDelete?(keys: readonly string[], tenant: string): Promise<number>;
  health(): StoreHealth;
  /** run the admission path once (scripts, connection), before the replica calls itself ready */
  warm?(): Promise<void>;
  close(): Promise<void>;
}
