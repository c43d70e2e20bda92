// A byte- and count-bounded LRU with per-entry expiry: the in-memory (L1) response cache.
// Map iteration order is insertion order, so re-inserting on read makes the first key the least
// recently used one, and eviction walks from the front.
export interface LruLimits {
  maxEntries: number;
  maxBytes: number;
  maxEntryBytes: number;
}

interface Entry {
  value: Buffer;
  expireAt: number;
}

export class LruCache {
  readonly #limits: LruLimits;
  readonly #map = new Map<string, Entry>();
  readonly #now: () => number;
  #bytes = 0;

  constructor(limits: LruLimits, now: () => number = Date.now) {
    this.#limits = limits;
    this.#now = now;
  }

  get(key: string): { value: Buffer; expireAt: number } | undefined {
    const e = this.#map.get(key);
    if (!e) return undefined;
    this.#map.delete(key);
    if (e.expireAt <= this.#now()) {
      this.#bytes -= e.value.length;
      return undefined;
    }
    this.#map.set(key, e);
    return e;
  }

  /** Returns false when the value is larger than maxEntryBytes (it is not stored). */
  set(key: string, value: Buffer, expireAt: number): boolean {
    if (value.length > this.#limits.maxEntryBytes || value.length > this.#limits.maxBytes) return false;
    const old = this.#map.get(key);
    if (old) {
      this.#map.delete(key);
      this.#bytes -= old.value.length;
    }
    this.#map.set(key, { value, expireAt });
    this.#bytes += value.length;
    for (const [k, e] of this.#map) {
      if (this.#map.size <= this.#limits.maxEntries && this.#bytes <= this.#limits.maxBytes) break;
      this.#map.delete(k);
      this.#bytes -= e.value.length;
    }
    return true;
  }

  get size(): number {
    return this.#map.size;
  }

  get bytes(): number {
    return this.#bytes;
  }
}
