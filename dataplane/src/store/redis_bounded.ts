// Each tenant's share of the records Sluice keeps in Redis (the Responses API's stored responses and
// items, the L2 response cache), bounded in bytes and enforced inside Redis by one script per write, so
// replicas writing at once can never take a tenant past its bound. Records used to leave by TTL only:
// one tenant storing responses (up to 8 MiB each, kept 7 days) filled Redis until its maxmemory policy
// evicted other tenants' conversations and limit counters, or (noeviction) Redis refused their writes.
//
// Per tenant and kind of record, three keys beside the records, all under the tenant's hash tag (so a
// script's keys share one Redis Cluster slot):
//   <prefix><kind>:{<tenant>}:#idx    sorted set: record key -> when it expires (ms, Redis's clock)
//   <prefix><kind>:{<tenant>}:#size   hash: record key -> its bytes
//   <prefix><kind>:{<tenant>}:#used   the bytes of the tenant's live records
// A write first forgets the tenant's records that expired (their TTL removed them), then, when the new
// record does not fit, deletes the tenant's records that would expire soonest (its oldest, as they
// share a TTL) until it does: a tenant at its bound loses its own oldest records, never another
// tenant's. A record larger than the whole bound is not stored. Record keys hold '#' nowhere after the
// tag (ids are [A-Za-z0-9_-], cache keys hex), so they never meet the index keys.
import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { rejectAfter } from './deadline.ts';

/** Expired entries a write forgets at most (a backlog is worked off by the next writes). */
const SWEEP_MAX = 1_000;

/**
 * KEYS: record, index, sizes, used. ARGV: value, ttlMs, maxBytes, sweepMax.
 * Returns the number of the tenant's records deleted to make room, or -1 when the value alone is
 * over the bound (nothing written).
 */
const SET_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl, max = tonumber(ARGV[2]), tonumber(ARGV[3])
local size = string.len(ARGV[1])
if size > max then return -1 end
local used = tonumber(redis.call('GET', KEYS[4]) or '0')
local function forget(member)
  used = used - tonumber(redis.call('HGET', KEYS[3], member) or '0')
  redis.call('HDEL', KEYS[3], member)
  redis.call('ZREM', KEYS[2], member)
end
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, tonumber(ARGV[4]))) do
  forget(m)
end
if redis.call('ZSCORE', KEYS[2], KEYS[1]) then forget(KEYS[1]) end
local evicted = 0
while used + size > max do
  local oldest = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
  if not oldest then used = 0 break end
  redis.call('DEL', oldest)
  forget(oldest)
  evicted = evicted + 1
end
if used < 0 then used = 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
redis.call('ZADD', KEYS[2], now + ttl, KEYS[1])
redis.call('HSET', KEYS[3], KEYS[1], size)
redis.call('SET', KEYS[4], used + size)
for i = 2, 4 do
  if redis.call('PTTL', KEYS[i]) < ttl then redis.call('PEXPIRE', KEYS[i], ttl) end
end
return evicted
`;

/** KEYS: record, index, sizes, used. Returns 1 when the record was there. */
const DELETE_LUA = `
local gone = redis.call('DEL', KEYS[1])
if redis.call('ZREM', KEYS[2], KEYS[1]) == 1 then
  local used = tonumber(redis.call('GET', KEYS[4]) or '0') - tonumber(redis.call('HGET', KEYS[3], KEYS[1]) or '0')
  redis.call('HDEL', KEYS[3], KEYS[1])
  redis.call('SET', KEYS[4], math.max(used, 0), 'KEEPTTL')
end
return gone
`;

interface Script {
  source: string;
  sha: string;
}

const script = (source: string): Script => ({ source, sha: createHash('sha1').update(source).digest('hex') });
const SET = script(SET_LUA);
const DELETE = script(DELETE_LUA);

/**
 * A cache key's tenant and the rest (cache/key.ts: `<namespace>/<digest>.<ttl>`); a key without one
 * is the tenant "-" (no namespace is named so), never an empty hash tag, which Cluster ignores.
 */
export function cacheTenant(key: string): [string, string] {
  const at = key.indexOf('/');
  return at <= 0 ? ['-', key] : [key.slice(0, at), key.slice(at + 1)];
}

/** The kinds of bounded records: each has its own bound per tenant. */
export type RecordKind = 'rec' | 'cache';

export class BoundedRecords {
  readonly #client: Redis | Cluster;
  readonly #prefix: string;
  readonly #waitMs: number;

  constructor(client: Redis | Cluster, keyPrefix: string, waitMs: number) {
    this.#client = client;
    this.#prefix = keyPrefix;
    this.#waitMs = waitMs;
  }

  /** The Redis key of a tenant's record (`key` is unique within the tenant and kind). */
  key(kind: RecordKind, tenant: string, key: string): string {
    return `${this.#prefix}${kind}:{${tenant}}:${key}`;
  }

  #keys(kind: RecordKind, tenant: string, key: string): string[] {
    const base = `${this.#prefix}${kind}:{${tenant}}:#`;
    return [this.key(kind, tenant, key), `${base}idx`, `${base}size`, `${base}used`];
  }

  async #call(s: Script, keys: string[], argv: Array<string | number | Buffer>): Promise<number> {
    const args = [s.sha, keys.length, ...keys, ...argv];
    try {
      return (await rejectAfter(this.#client.call('evalsha', args), this.#waitMs)) as number;
    } catch (err) {
      // a restarted Redis has an empty script cache: send the source once
      if (!(err instanceof Error && err.message.startsWith('NOSCRIPT'))) throw err;
      args[0] = s.source;
      return (await rejectAfter(this.#client.call('eval', args), this.#waitMs)) as number;
    }
  }

  /**
   * Store a record within its tenant's bound: the tenant's soonest-expiring records make room. False
   * when the value alone is larger than the bound (nothing stored). Throws when Redis does not answer.
   */
  async set(
    kind: RecordKind,
    tenant: string,
    key: string,
    value: Buffer,
    ttlMs: number,
    maxBytes: number,
  ): Promise<{ stored: boolean; evicted: number }> {
    const n = await this.#call(SET, this.#keys(kind, tenant, key), [value, ttlMs, maxBytes, SWEEP_MAX]);
    return n < 0 ? { stored: false, evicted: 0 } : { stored: true, evicted: n };
  }

  async get(kind: RecordKind, tenant: string, key: string): Promise<Buffer | undefined> {
    const v = await rejectAfter(this.#client.getBuffer(this.key(kind, tenant, key)), this.#waitMs);
    return v ?? undefined;
  }

  /** true when the record was there */
  async delete(kind: RecordKind, tenant: string, key: string): Promise<boolean> {
    return (await this.#call(DELETE, this.#keys(kind, tenant, key), [])) > 0;
  }

  /**
   * Where a Responses record was written before the bound (`rec:<kind>:<tenant>:<id>`): read and
   * deleted there too until it expires (responses.ttlSeconds after the upgrade at most), never counted.
   */
  #legacy(tenant: string, key: string): string {
    const at = key.indexOf(':');
    return `${this.#prefix}rec:${key.slice(0, at)}:${tenant}:${key.slice(at + 1)}`;
  }

  /** A Responses record: where the bound keeps it, else where it was written before the bound. */
  async getRecord(tenant: string, key: string): Promise<Buffer | undefined> {
    const found = await this.get('rec', tenant, key);
    if (found) return found;
    return (await rejectAfter(this.#client.getBuffer(this.#legacy(tenant, key)), this.#waitMs)) ?? undefined;
  }

  async deleteRecord(tenant: string, key: string): Promise<boolean> {
    const [bounded, legacy] = await Promise.all([
      this.delete('rec', tenant, key),
      rejectAfter(this.#client.del(this.#legacy(tenant, key)), this.#waitMs),
    ]);
    return bounded || legacy > 0;
  }

  /** The bytes the tenant's live records of `kind` take, as the bound counts them (for tests and status). */
  async used(kind: RecordKind, tenant: string): Promise<number> {
    const keys = this.#keys(kind, tenant, '');
    return Number((await this.#client.get(keys[3] as string)) ?? 0);
  }
}
