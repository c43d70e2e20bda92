// Exact-match response cache for non-streaming answers: L1 in this replica's memory, L2 in Redis (when
// the store is Redis) so every replica benefits from an answer any of them fetched. An L2 value carries
// its absolute expiry (8 bytes) ahead of the body, so an entry copied into L1 expires when L2's does.
import type { SluiceConfig } from '../config/schema.ts';
import type { Store } from '../store/types.ts';
import { ttlOfKey } from './key.ts';
import { LruCache } from './lru.ts';

export class ResponseCache {
  readonly #l1: LruCache;
  readonly #store: Store;
  readonly #maxEntryBytes: number;
  readonly #l2MaxBytesPerTenant: number;

  /** `l1` may be handed over from the previous config's cache so a reload keeps warm entries. */
  constructor(cfg: SluiceConfig['cache'], store: Store, l1: LruCache = new LruCache(cfg)) {
    this.#l1 = l1;
    this.#store = store;
    this.#maxEntryBytes = cfg.maxEntryBytes;
    this.#l2MaxBytesPerTenant = cfg.redisMaxBytesPerTenant;
  }

  async get(key: string): Promise<Buffer | undefined> {
    const hit = this.#l1.get(key);
    if (hit) return hit.value;
    const raw = await this.#store.cacheGet?.(key);
    if (!raw || raw.length < 8) return undefined;
    const expireAt = Number(raw.readBigUInt64BE(0));
    if (expireAt <= Date.now()) return undefined;
    const body = raw.subarray(8);
    this.#l1.set(key, body, expireAt);
    return body;
  }

  async set(key: string, body: Buffer | string): Promise<void> {
    const ttl = ttlOfKey(key);
    if (ttl === undefined) return;
    const value = typeof body === 'string' ? Buffer.from(body) : body;
    if (value.length > this.#maxEntryBytes) return;
    const expireAt = Date.now() + ttl * 1000;
    this.#l1.set(key, value, expireAt);
    if (this.#store.cacheSet) {
      const head = Buffer.alloc(8);
      head.writeBigUInt64BE(BigInt(expireAt));
      await this.#store.cacheSet(key, Buffer.concat([head, value]), ttl * 1000, this.#l2MaxBytesPerTenant);
    }
  }

  get l1(): LruCache {
    return this.#l1;
  }

  stats(): { entries: number; bytes: number } {
    return { entries: this.#l1.size, bytes: this.#l1.bytes };
  }
}
