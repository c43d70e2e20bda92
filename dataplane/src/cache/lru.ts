// A byte- and count-bounded LRU with per-entry expiry, shared by the tenants of a replica: the
// in-memory (L1) response cache and the in-memory Responses state (responses/state.ts). A key names
// its tenant before its first '/' (`<namespace>/<rest>`; no '/' is the tenant ''). Each tenant's
// entries are a Map in insertion order, so re-inserting on read makes the first key its least recently
// used one. Past a bound, the tenant holding the most (bytes past the byte bound, entries past the
// count bound) loses its least recently used entry: one tenant's flood of entries only ever evicts
// its own, where a single LRU let it evict every other tenant's cached answers (and so bill them for
// upstream calls their hits would have saved) or stored conversations.
//
// A value is kept in memory of its own: a small Buffer is a slice of Node's shared pool
// (Buffer.poolSize, 64 KiB on Node 24), a subarray one of a larger read, and kept as it was, one
// 30-byte entry kept its whole pool alive: 20,000 tiny Responses items, 0.6 MB counted, held ~93 MB
// (responses/state_memory.test.ts).
export interface LruLimits {
  maxEntries: number;
  maxBytes: number;
  maxEntryBytes: number;
  /**
   * bytes counted per entry beside its value and its key (the Map entry, the objects that hold it):
   * for a store without a count bound, where tiny entries would otherwise cost far more than counted
   */
  entryOverhead?: number;
}

interface Entry {
  value: Buffer;
  expireAt: number;
  /** what it counts against maxBytes (its value, with entryOverhead its key and the overhead) */
  cost: number;
}

/** The value in memory of its own (a copy when it shares a larger allocation). */
function owned(value: Buffer): Buffer {
  if (value.byteOffset === 0 && value.buffer.byteLength === value.length) return value;
  const own = Buffer.allocUnsafeSlow(value.length);
  value.copy(own);
  return own;
}

interface TenantEntries {
  entries: Map<string, Entry>;
  bytes: number;
}

function tenantOf(key: string): string {
  const at = key.indexOf('/');
  return at < 0 ? '' : key.slice(0, at);
}

export class LruCache {
  /** may change (a reload's bounds); applied from the next set */
  limits: LruLimits;
  readonly #tenants = new Map<string, TenantEntries>();
  readonly #now: () => number;
  #bytes = 0;
  #size = 0;

  constructor(limits: LruLimits, now: () => number = Date.now) {
    this.limits = limits;
    this.#now = now;
  }

  get(key: string): { value: Buffer; expireAt: number } | undefined {
    const t = this.#tenants.get(tenantOf(key));
    const e = t?.entries.get(key);
    if (!t || !e) return undefined;
    if (e.expireAt <= this.#now()) {
      this.#drop(tenantOf(key), t, key, e);
      return undefined;
    }
    t.entries.delete(key);
    t.entries.set(key, e);
    return e;
  }

  /** Returns false when the value is larger than maxEntryBytes (it is not stored). */
  set(key: string, value: Buffer, expireAt: number): boolean {
    const { maxEntries, maxBytes, maxEntryBytes, entryOverhead } = this.limits;
    // the cost is at least the value's bytes: over maxBytes when the value alone is
    const cost = entryOverhead === undefined ? value.length : value.length + key.length + entryOverhead;
    if (value.length > maxEntryBytes || cost > maxBytes) return false;
    this.delete(key);
    const tenant = tenantOf(key);
    let t = this.#tenants.get(tenant);
    if (!t) {
      t = { entries: new Map(), bytes: 0 };
      this.#tenants.set(tenant, t);
    }
    t.entries.set(key, { value: owned(value), expireAt, cost });
    t.bytes += cost;
    this.#bytes += cost;
    this.#size++;
    while (this.#size > maxEntries || this.#bytes > maxBytes) {
      const [holder, most] = this.#largest(this.#bytes > maxBytes);
      const [oldest, e] = most.entries.entries().next().value as [string, Entry];
      this.#drop(holder, most, oldest, e);
    }
    return true;
  }

  delete(key: string): boolean {
    const tenant = tenantOf(key);
    const t = this.#tenants.get(tenant);
    const e = t?.entries.get(key);
    if (!t || !e) return false;
    this.#drop(tenant, t, key, e);
    return true;
  }

  #drop(tenant: string, t: TenantEntries, key: string, e: Entry): void {
    t.entries.delete(key);
    t.bytes -= e.cost;
    this.#bytes -= e.cost;
    this.#size--;
    if (t.entries.size === 0) this.#tenants.delete(tenant);
  }

  /** The tenant holding the most bytes (or entries); only called while some tenant holds entries. */
  #largest(byBytes: boolean): [string, TenantEntries] {
    let best: [string, TenantEntries] | undefined;
    for (const entry of this.#tenants) {
      const t = entry[1];
      if (!best || (byBytes ? t.bytes > best[1].bytes : t.entries.size > best[1].entries.size)) best = entry;
    }
    return best as [string, TenantEntries];
  }

  get size(): number {
    return this.#size;
  }

  get bytes(): number {
    return this.#bytes;
  }
}
