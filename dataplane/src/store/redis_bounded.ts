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
// A record is counted as what Redis holds for it (recordCost): its value, its key three times (the
// keyspace, the index, the sizes hash) and RECORD_OVERHEAD. Counted by its value alone, a tenant
// storing tiny records (a reasoning id is ~30 bytes of value and ~560 in Redis) held ~20 times its
// bound.
// Reads and deletes of several records are one tenant's at a time: the items a request names are one
// MGET, a response and its items one delete script that gives their bytes back, each in the tenant's
// one slot, so they work on a Redis Cluster as on a single Redis.
import { createHash } from 'node:crypto';
import { Cluster, type Redis } from 'ioredis';
import { rejectAfter } from './deadline.ts';

/**
 * What Redis holds for a record beside its value and its key's three copies: the key's entries and
 * expiry in the keyspace, the index's skiplist node and hash entry, the sizes hash's entry (Redis 7,
 * jemalloc: 470-730 bytes in all per record for keys of 49-149 characters, the value aside).
 */
export const RECORD_OVERHEAD = 320;

/** What a record counts against its tenant's bound: roughly what Redis holds for it. */
export function recordCost(redisKey: string, valueBytes: number): number {
  return valueBytes + 3 * Buffer.byteLength(redisKey) + RECORD_OVERHEAD;
}

/** Expired entries a write forgets at most (a backlog is worked off by the next writes). */
const SWEEP_MAX = 1_000;
/**
 * Live records one write deletes at most to make room. A script holds Redis for every tenant while it
 * runs: a tenant at its bound with thousands of tiny records writing one large one made a single
 * write delete them all in one go (8,000 per 8 MiB record of 1 KiB ones). Beyond this the write is
 * not stored (as for a record over the bound) and the next write goes on making room.
 */
export const EVICT_MAX = 1_000;

/**
 * KEYS: record, index, sizes, used. ARGV: value, ttlMs, maxBytes, sweepMax, evictMax, overhead.
 * A record's size is its cost (recordCost: the value, three copies of the key, the overhead).
 * Returns the number of the tenant's records deleted to make room, -1 when the record alone is over
 * the bound, or -2 when making room would take more than evictMax deletions (nothing written; the
 * ones done stay done, and counted). A record the write would have replaced is forgotten only for as
 * long as room is made: on -2 it is still there, so it is counted again (it was left uncounted, in
 * Redis until its TTL and outside the tenant's bound).
 */
const SET_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl, max = tonumber(ARGV[2]), tonumber(ARGV[3])
local size = string.len(ARGV[1]) + 3 * string.len(KEYS[1]) + tonumber(ARGV[6])
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
local oldAt = redis.call('ZSCORE', KEYS[2], KEYS[1])
local oldSize = tonumber(redis.call('HGET', KEYS[3], KEYS[1]) or '0')
if oldAt then forget(KEYS[1]) end
local evicted = 0
while used + size > max do
  if evicted >= tonumber(ARGV[5]) then
    -- nothing written: a record this write would have replaced stays, and so does its count
    if oldAt and redis.call('EXISTS', KEYS[1]) == 1 then
      redis.call('ZADD', KEYS[2], oldAt, KEYS[1])
      redis.call('HSET', KEYS[3], KEYS[1], oldSize)
      used = used + oldSize
    end
    redis.call('SET', KEYS[4], math.max(used, 0), 'KEEPTTL')
    return -2
  end
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

/**
 * KEYS: index, sizes, used, then the records to delete (all of one tenant, one hash tag, one slot).
 * Returns, per record, 1 when it was there. Used bytes are given back for each record the index held,
 * all in one script, so a response and its items leave the tenant's count exactly together.
 */
const DELETE_LUA = `
local used = tonumber(redis.call('GET', KEYS[3]) or '0')
local counted = false
local gone = {}
for i = 4, #KEYS do
  gone[i - 3] = redis.call('DEL', KEYS[i])
  if redis.call('ZREM', KEYS[1], KEYS[i]) == 1 then
    used = used - tonumber(redis.call('HGET', KEYS[2], KEYS[i]) or '0')
    redis.call('HDEL', KEYS[2], KEYS[i])
    counted = true
  end
end
if counted then redis.call('SET', KEYS[3], math.max(used, 0), 'KEEPTTL') end
return gone
`;

/**
 * KEYS: records of one tenant (one hash tag, one slot). ARGV[1]: maxBytes, ARGV[1 + i]: how many times
 * KEYS[i] counts. Their values (one MGET), or -1, with nothing read, when their stored sizes so
 * counted exceed maxBytes: STRLEN reads a size without the value.
 */
const GET_WITHIN_LUA = `
local max, total = tonumber(ARGV[1]), 0
for i, k in ipairs(KEYS) do
  total = total + redis.call('STRLEN', k) * tonumber(ARGV[i + 1])
  if total > max then return -1 end
end
return redis.call('MGET', unpack(KEYS))
`;

interface Script {
  source: string;
  sha: string;
}

const script = (source: string): Script => ({ source, sha: createHash('sha1').update(source).digest('hex') });
const SET = script(SET_LUA);
const DELETE = script(DELETE_LUA);
const GET_WITHIN = script(GET_WITHIN_LUA);

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

  /** `buffers`: bulk replies as Buffers (record values), not strings */
  async #call<T>(
    s: Script,
    keys: string[],
    argv: Array<string | number | Buffer>,
    buffers = false,
  ): Promise<T> {
    const args = [s.sha, keys.length, ...keys, ...argv];
    const send = (command: string) =>
      buffers ? this.#client.callBuffer(command, args) : this.#client.call(command, args);
    try {
      return (await rejectAfter(send('evalsha'), this.#waitMs)) as T;
    } catch (err) {
      // a restarted Redis has an empty script cache: send the source once
      if (!(err instanceof Error && err.message.startsWith('NOSCRIPT'))) throw err;
      args[0] = s.source;
      return (await rejectAfter(send('eval'), this.#waitMs)) as T;
    }
  }

  /**
   * Store a record within its tenant's bound: the tenant's soonest-expiring records make room. Not
   * stored when the record alone (recordCost) is larger than the bound, or when making room would
   * delete more than EVICT_MAX records (then `evicted` says how many went). Throws when Redis does
   * not answer.
   */
  async set(
    kind: RecordKind,
    tenant: string,
    key: string,
    value: Buffer,
    ttlMs: number,
    maxBytes: number,
  ): Promise<{ stored: boolean; evicted: number }> {
    const n = await this.#call<number>(SET, this.#keys(kind, tenant, key), [
      value,
      ttlMs,
      maxBytes,
      SWEEP_MAX,
      EVICT_MAX,
      RECORD_OVERHEAD,
    ]);
    if (n === -2) return { stored: false, evicted: EVICT_MAX };
    return n < 0 ? { stored: false, evicted: 0 } : { stored: true, evicted: n };
  }

  async get(kind: RecordKind, tenant: string, key: string): Promise<Buffer | undefined> {
    const v = await rejectAfter(this.#client.getBuffer(this.key(kind, tenant, key)), this.#waitMs);
    return v ?? undefined;
  }

  /**
   * Where a Responses record was written before the bound (`rec:<kind>:<tenant>:<id>`): read and
   * deleted there too until it expires (responses.ttlSeconds after the upgrade at most), never counted.
   */
  #legacy(tenant: string, key: string): string {
    const at = key.indexOf(':');
    return `${this.#prefix}rec:${key.slice(0, at)}:${tenant}:${key.slice(at + 1)}`;
  }

  /**
   * Several of one tenant's Responses records (a response, the items a request names), in the order
   * of `keys`: one MGET, whose keys all carry the tenant's hash tag (one Cluster slot). Only the ones
   * not found are looked for where they were written before the bound.
   */
  async getRecords(tenant: string, keys: readonly string[]): Promise<Array<Buffer | undefined>> {
    if (keys.length === 0) return [];
    const full = keys.map((k) => this.key('rec', tenant, k));
    const found = (await rejectAfter(this.#client.mgetBuffer(full), this.#waitMs)).map((v) => v ?? undefined);
    const missing = keys.flatMap((k, i) => (found[i] !== undefined ? [] : [this.#legacy(tenant, k)]));
    if (missing.length === 0) return found;
    const old = await this.#legacyGet(missing);
    let j = 0;
    return found.map((v) => v ?? old[j++]);
  }

  /**
   * Like getRecords, but only when the records' stored sizes, each counted `weights[i]` times, come to
   * at most `maxBytes`: checked in the script that reads them, before any value is read (undefined
   * then). A request names up to 2048 records, each up to responses.maxRecordBytes: reading them all
   * to find the total too large pulled a tenant's whole share of Redis into the replica. Records
   * written before the bound are read as by getRecords and counted after (they expire).
   */
  async getRecordsWithin(
    tenant: string,
    keys: readonly string[],
    weights: readonly number[],
    maxBytes: number,
  ): Promise<Array<Buffer | undefined> | undefined> {
    if (keys.length === 0) return [];
    const full = keys.map((k) => this.key('rec', tenant, k));
    const got = await this.#call<Array<Buffer | null> | number>(
      GET_WITHIN,
      full,
      [maxBytes, ...weights],
      true,
    );
    if (!Array.isArray(got)) return undefined;
    const found = got.map((v) => v ?? undefined);
    const missing = keys.flatMap((k, i) => (found[i] !== undefined ? [] : [this.#legacy(tenant, k)]));
    if (missing.length === 0) return found;
    const old = await this.#legacyGet(missing);
    let j = 0;
    const all = found.map((v) => v ?? old[j++]);
    const total = all.reduce((sum, v, i) => sum + (v?.length ?? 0) * (weights[i] ?? 1), 0);
    return total > maxBytes ? undefined : all;
  }

  /**
   * Delete several of one tenant's Responses records (a response and its items) in one script, which
   * gives their bytes back to the tenant's count exactly; the ones it did not hold are deleted where
   * they were written before the bound. How many of the records were there.
   */
  async deleteRecords(tenant: string, keys: readonly string[]): Promise<number> {
    if (keys.length === 0) return 0;
    const [, ...index] = this.#keys('rec', tenant, '');
    const full = keys.map((k) => this.key('rec', tenant, k));
    const gone = await this.#call<number[]>(DELETE, [...index, ...full], []);
    const missing = keys.flatMap((k, i) => (gone[i] === 1 ? [] : [this.#legacy(tenant, k)]));
    const there = gone.filter((n) => n === 1).length;
    return missing.length === 0 ? there : there + (await this.#legacyDel(missing));
  }

  // Legacy keys carry no hash tag: one command on a standalone Redis, one per key (sent at once) on a
  // Cluster, where they sit on different slots (one MGET or DEL of them would be a CROSSSLOT error).
  async #legacyGet(keys: string[]): Promise<Array<Buffer | undefined>> {
    const c = this.#client;
    const values =
      c instanceof Cluster
        ? await Promise.all(keys.map((k) => rejectAfter(c.getBuffer(k), this.#waitMs)))
        : await rejectAfter(c.mgetBuffer(keys), this.#waitMs);
    return values.map((v) => v ?? undefined);
  }

  async #legacyDel(keys: string[]): Promise<number> {
    const c = this.#client;
    if (!(c instanceof Cluster)) return rejectAfter(c.del(keys), this.#waitMs);
    const counts = await Promise.all(keys.map((k) => rejectAfter(c.del(k), this.#waitMs)));
    return counts.reduce((a, b) => a + b, 0);
  }

  /** The bytes the tenant's live records of `kind` take, as the bound counts them (recordCost each). */
  async used(kind: RecordKind, tenant: string): Promise<number> {
    const keys = this.#keys(kind, tenant, '');
    return Number((await this.#client.get(keys[3] as string)) ?? 0);
  }
}
