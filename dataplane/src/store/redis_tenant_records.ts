// What the Redis store keeps for tenants beside its limits: the L2 response cache and the Responses
// API's records (stored responses and their items), each tenant's bounded in bytes (redis_bounded.ts).
// The cache goes through the store's circuit (a miss when Redis is gone, a write dropped); records
// go straight to Redis and throw on failure, because the caller must tell "not found" from "could
// not look" (the circuit and the local fallback are for limits only). The methods are the Store's
// (types.ts), as fields the RedisStore hands out as its own.
import type { Timed } from './deadline.ts';
import { type BoundedRecords, cacheTenant } from './redis_bounded.ts';
import type { TenantBound } from './types.ts';

/** The store's circuit, as the cache sees it. */
export interface CacheCircuit {
  isOpen(): boolean;
  timed<T>(p: Promise<T>): Promise<Timed<T>>;
  succeeded(): void;
  failed(err: unknown): void;
}

export class TenantRecords {
  readonly #bounded: BoundedRecords;
  readonly #circuit: CacheCircuit;

  constructor(bounded: BoundedRecords, circuit: CacheCircuit) {
    this.#bounded = bounded;
    this.#circuit = circuit;
  }

  readonly cacheGet = async (key: string): Promise<Buffer | undefined> => {
    if (this.#circuit.isOpen()) return undefined;
    const [tenant, rest] = cacheTenant(key);
    const r = await this.#circuit.timed(this.#bounded.get('cache', tenant, rest));
    if (!r.ok) {
      this.#circuit.failed(r.error);
      return undefined;
    }
    this.#circuit.succeeded();
    return r.value ?? undefined;
  };

  readonly cacheSet = async (
    key: string,
    value: Buffer,
    ttlMs: number,
    maxBytesPerTenant?: number,
  ): Promise<void> => {
    if (this.#circuit.isOpen()) return;
    const [tenant, rest] = cacheTenant(key);
    const max = maxBytesPerTenant ?? Number.MAX_SAFE_INTEGER;
    const r = await this.#circuit.timed(this.#bounded.set('cache', tenant, rest, value, ttlMs, max));
    if (r.ok) this.#circuit.succeeded();
    else this.#circuit.failed(r.error);
  };

  readonly recordGet = async (key: string, tenant: string): Promise<Buffer | undefined> =>
    (await this.#bounded.getRecords(tenant, [key]))[0];

  /**
   * the tenant's records, all in its hash tag's slot, read only when their stored sizes (weighted)
   * fit maxBytes: undefined, nothing read
   */
  readonly recordGetWithin = (
    keys: readonly string[],
    tenant: string,
    weights: readonly number[],
    maxBytes: number,
  ): Promise<Array<Buffer | undefined> | undefined> =>
    this.#bounded.getRecordsWithin(tenant, keys, weights, maxBytes);

  readonly recordSet = async (
    key: string,
    value: Buffer,
    ttlMs: number,
    bound: TenantBound,
  ): Promise<boolean> =>
    (await this.#bounded.set('rec', bound.tenant, key, value, ttlMs, bound.maxBytes)).stored;

  /** one script: the records go and the tenant's used bytes drop by theirs, together */
  readonly recordDelete = (keys: readonly string[], tenant: string): Promise<number> =>
    this.#bounded.deleteRecords(tenant, keys);
}
