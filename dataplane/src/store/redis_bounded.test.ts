// Each tenant's records in Redis (stored responses, items, L2 cache entries) are bounded in bytes,
// exactly, by a script per write (redis_bounded.ts). Against a real redis-server: a flood from one
// tenant stays within its bound even from two replicas at once, costs that tenant its own oldest
// records, and never evicts another tenant's (here Redis runs with a small maxmemory and allkeys-lru,
// as caches are often run: without the bound, the flood made Redis evict the other tenant's records).
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisServer, startRedis } from '../../../test/helpers/redis.ts';
import { RedisStore } from './redis.ts';
import { EVICT_MAX, recordCost } from './redis_bounded.ts';

let redis: RedisServer;
let one: RedisStore;
let two: RedisStore;
let raw: Redis;

const makeStore = () =>
  new RedisStore({
    settings: { url: redis.url, commandTimeoutMs: 2_000, connectTimeoutMs: 1_000 },
    keyPrefix: 'b:',
    failMode: 'open',
    replicas: 2,
    failureThreshold: 3,
    retryIntervalMs: 100,
  });

beforeAll(async () => {
  redis = await startRedis(['--maxmemory', '6mb', '--maxmemory-policy', 'allkeys-lru']);
  [one, two] = [makeStore(), makeStore()];
  await Promise.all([one.ready(2_000), two.ready(2_000)]);
  raw = new Redis(redis.url);
});
afterAll(async () => {
  raw?.disconnect();
  await Promise.all([one?.close(), two?.close()]);
  await redis?.stop();
});

const bytes = (n: number, fill: string) => Buffer.alloc(n, fill);
const MINUTE = 60_000;

/** every named record of a tenant, read through the bounded read with a bound that never refuses */
const readAll = async (s: RedisStore, keys: string[], tenant: string) =>
  (await s.recordGetWithin(
    keys,
    tenant,
    keys.map(() => 1),
    Number.MAX_SAFE_INTEGER,
  )) ?? [];

/** what one record counts against its tenant's bound (its value, its key, Redis's structures) */
const cost = (kind: string, tenant: string, key: string, valueBytes: number) =>
  recordCost(`b:${kind}:{${tenant}}:${key}`, valueBytes);

/** a tenant's live record keys of one kind, their values' size and their cost, as Redis holds them */
async function live(kind: string, tenant: string): Promise<{ keys: string[]; bytes: number; cost: number }> {
  const keys = (await raw.keys(`b:${kind}:{${tenant}}:*`)).filter((k) => !k.includes(':#'));
  let total = 0;
  let costs = 0;
  for (const k of keys) {
    const n = await raw.strlen(k);
    total += n;
    costs += recordCost(k, n);
  }
  return { keys, bytes: total, cost: costs };
}

describe("a tenant's records in Redis", () => {
  it("stay within the tenant's bound under concurrent writes from two replicas, and never evict another tenant's", async () => {
    const other = { tenant: 'team-b', maxBytes: 1024 * 1024 };
    for (let i = 0; i < 20; i++) await one.recordSet(`resp:b${i}`, bytes(20_000, 'b'), 10 * MINUTE, other);
    const bound = { tenant: 'team-a', maxBytes: 1024 * 1024 };
    // 10 MB from team-a, 200 writes at once through two replicas, against a 6 MB Redis
    await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        (i % 2 ? one : two).recordSet(`resp:a${i}`, bytes(50_000, 'a'), 10 * MINUTE, bound),
      ),
    );
    // every one of team-b's conversations is still there: Redis evicted nothing
    for (let i = 0; i < 20; i++) expect((await two.recordGet(`resp:b${i}`, 'team-b'))?.length).toBe(20_000);
    expect(redis.cli('INFO', 'stats')).toMatch(/evicted_keys:0\r?\n/);
    const a = await live('rec', 'team-a');
    expect(a.cost).toBeLessThanOrEqual(bound.maxBytes);
    expect(a.keys.length).toBe(Math.floor(bound.maxBytes / cost('rec', 'team-a', 'resp:a100', 50_000)));
    // the bound's own count is the truth Redis holds
    expect(Number(await raw.get('b:rec:{team-a}:#used'))).toBe(a.cost);
  });

  it("make room by deleting the tenant's own oldest records first", async () => {
    const c = cost('rec', 'team-c', 'resp:c1', 3_000);
    // three such records fit, not four
    const bound = { tenant: 'team-c', maxBytes: 3 * c + 100 };
    for (let i = 1; i <= 4; i++)
      expect(await one.recordSet(`resp:c${i}`, bytes(3_000, 'c'), MINUTE, bound)).toBe(true);
    expect(await one.recordGet('resp:c1', 'team-c')).toBeUndefined();
    for (let i = 2; i <= 4; i++) expect(await one.recordGet(`resp:c${i}`, 'team-c')).toBeDefined();
    // rewriting a record replaces its size, it does not add to it
    await one.recordSet('resp:c4', bytes(1_000, 'c'), MINUTE, bound);
    const c4 = cost('rec', 'team-c', 'resp:c4', 1_000);
    expect(Number(await raw.get('b:rec:{team-c}:#used'))).toBe(2 * c + c4);
    // a deleted record gives its bytes back
    expect(await one.recordDelete(['resp:c2'], 'team-c')).toBe(1);
    expect(Number(await raw.get('b:rec:{team-c}:#used'))).toBe(c + c4);
    expect(await one.recordDelete(['resp:c2'], 'team-c')).toBe(0);
    // larger than the whole bound: not stored, nothing else lost
    expect(await one.recordSet('resp:huge', bytes(bound.maxBytes, 'c'), MINUTE, bound)).toBe(false);
    expect(await one.recordGet('resp:huge', 'team-c')).toBeUndefined();
    expect((await live('rec', 'team-c')).keys.length).toBe(2);
  });

  it('make room by at most EVICT_MAX deletions per write: a write that needs more is not stored, the next goes on', async () => {
    const n = EVICT_MAX + 500;
    // n tiny records fill the bound (written concurrently: n round trips one by one are slow)
    const keys = Array.from({ length: n }, (_, i) => `resp:g${i}`);
    const bound = {
      tenant: 'team-g',
      maxBytes: keys.reduce((sum, k) => sum + cost('rec', 'team-g', k, 10), 0),
    };
    await Promise.all(keys.map((k) => one.recordSet(k, bytes(10, 'g'), MINUTE, bound)));
    expect(Number(await raw.get('b:rec:{team-g}:#used'))).toBe(bound.maxBytes);
    // a record as large as the whole bound needs every one of them gone
    const big = bytes(bound.maxBytes - cost('rec', 'team-g', 'resp:big', 0), 'G');
    expect(await one.recordSet('resp:big', big, MINUTE, bound)).toBe(false);
    const left = await live('rec', 'team-g');
    expect(left.keys.length).toBe(500);
    expect(Number(await raw.get('b:rec:{team-g}:#used'))).toBe(left.cost);
    expect(await raw.pttl('b:rec:{team-g}:#used')).toBeGreaterThan(0);
    // the next write finds the rest within its share and is stored
    expect(await one.recordSet('resp:big', big, MINUTE, bound)).toBe(true);
    expect((await live('rec', 'team-g')).keys).toEqual(['b:rec:{team-g}:resp:big']);
    expect(Number(await raw.get('b:rec:{team-g}:#used'))).toBe(bound.maxBytes);
  });

  it('keep counting a record whose rewrite was not stored (it stays, so its bytes stay in the bound)', async () => {
    // A rewrite forgot the old record's bytes before it knew whether the new value could be stored:
    // when making room took more than EVICT_MAX deletions, the old value stayed in Redis, uncounted
    // until its TTL, outside the tenant's bound (a cache key two identical requests both wrote).
    const n = EVICT_MAX + 500;
    const keys = Array.from({ length: n }, (_, i) => `resp:h${i}`);
    const tiny = keys.reduce((sum, k) => sum + cost('rec', 'team-k', k, 10), 0);
    const bound = { tenant: 'team-k', maxBytes: cost('rec', 'team-k', 'resp:kept', 100) + tiny };
    expect(await one.recordSet('resp:kept', bytes(100, 'k'), MINUTE, bound)).toBe(true);
    await Promise.all(keys.map((k) => one.recordSet(k, bytes(10, 'h'), MINUTE, bound)));
    const whole = bytes(bound.maxBytes - cost('rec', 'team-k', 'resp:kept', 0), 'K');
    expect(await one.recordSet('resp:kept', whole, MINUTE, bound)).toBe(false);
    const after = await live('rec', 'team-k');
    expect(after.keys).toContain('b:rec:{team-k}:resp:kept');
    expect((await one.recordGet('resp:kept', 'team-k'))?.toString()).toBe('k'.repeat(100));
    expect(Number(await raw.get('b:rec:{team-k}:#used'))).toBe(after.cost);
    expect(await raw.zscore('b:rec:{team-k}:#idx', 'b:rec:{team-k}:resp:kept')).not.toBeNull();
  });

  it("bound what the tenant's records take in Redis, not only their values", async () => {
    // Each record costs Redis its key three times (the keyspace, the index, the sizes hash) and
    // ~350 bytes of structures beside its value (measured on Redis 7: 470-730 bytes for keys of 49-149
    // characters). Counting the value alone, a tenant storing tiny records (the reasoning ids of a
    // native store:false answer are ~30 bytes) held 15 times its bound by MEMORY USAGE (0.82 now).
    const bound = { tenant: 'team-m', maxBytes: 128 * 1024 };
    const value = Buffer.from(JSON.stringify({ item: null, issuer: 'openai' }));
    for (let i = 0; i < 4_500; i += 500)
      await Promise.all(
        Array.from({ length: 500 }, (_, j) =>
          one.recordSet(`ritem:rs_${(i + j).toString(16).padStart(48, '0')}`, value, MINUTE, bound),
        ),
      );
    // what Redis reports for every key of the tenant: its records, their index, sizes and count
    let held = 0;
    for (const k of await raw.keys('b:rec:{team-m}:*')) held += Number(await raw.memory('USAGE', k));
    expect(held).toBeLessThanOrEqual(bound.maxBytes);
    expect(Number(await raw.get('b:rec:{team-m}:#used'))).toBeLessThanOrEqual(bound.maxBytes);
    expect(redis.cli('INFO', 'stats')).toMatch(/evicted_keys:0\r?\n/);
  });

  it('forget records that expired, so they take no room', async () => {
    const bound = { tenant: 'team-d', maxBytes: 10_000 };
    await one.recordSet('resp:old', bytes(9_000, 'd'), 100, bound);
    await new Promise((r) => setTimeout(r, 200));
    await one.recordSet('resp:new', bytes(9_000, 'd'), MINUTE, bound);
    expect(Number(await raw.get('b:rec:{team-d}:#used'))).toBe(cost('rec', 'team-d', 'resp:new', 9_000));
    expect(await one.recordGet('resp:new', 'team-d')).toBeDefined();
  });

  it('read and delete a record written before the bound, where it was written', async () => {
    await raw.set('b:rec:resp:team-e:resp_legacy', 'kept', 'PX', MINUTE);
    expect((await one.recordGet('resp:resp_legacy', 'team-e'))?.toString()).toBe('kept');
    expect(await one.recordGet('resp:resp_legacy', 'team-f')).toBeUndefined();
    expect(await one.recordDelete(['resp:resp_legacy'], 'team-e')).toBe(1);
    expect(await raw.exists('b:rec:resp:team-e:resp_legacy')).toBe(0);
  });

  it("read a response's items in one MGET and delete the response with them, giving back exactly their bytes", async () => {
    const bound = { tenant: 'team-i', maxBytes: 10_000 };
    const items = ['ritem:msg_1', 'ritem:fc_2', 'ritem:rs_3'];
    await one.recordSet('resp:resp_i', bytes(4_000, 'r'), MINUTE, bound);
    for (const k of items) await one.recordSet(k, bytes(1_000, 'i'), MINUTE, bound);
    await one.recordSet('resp:resp_keep', bytes(500, 'k'), MINUTE, bound);
    // an item written before the bound is found where it was, after the one MGET missed it
    await raw.set('b:rec:ritem:team-i:msg_old', 'old', 'PX', MINUTE);
    const mgets = async () =>
      Number(/cmdstat_mget:calls=(\d+)/.exec(await raw.info('commandstats'))?.[1] ?? 0);
    const before = await mgets();
    const got = await readAll(two, [...items, 'ritem:msg_none', 'ritem:msg_old'], 'team-i');
    expect(got.map((v) => v?.length)).toEqual([1_000, 1_000, 1_000, undefined, 3]);
    // one MGET for the tenant's keys, one for the two it did not hold (at their pre-bound keys)
    expect((await mgets()) - before).toBe(2);
    // another tenant naming the same ids finds none of them
    expect(await readAll(two, items, 'team-j')).toEqual([undefined, undefined, undefined]);
    const kept = cost('rec', 'team-i', 'resp:resp_keep', 500);
    const all = items.reduce((sum, k) => sum + cost('rec', 'team-i', k, 1_000), 0);
    expect(Number(await raw.get('b:rec:{team-i}:#used'))).toBe(
      cost('rec', 'team-i', 'resp:resp_i', 4_000) + all + kept,
    );
    expect(
      await two.recordDelete(['resp:resp_i', ...items, 'ritem:msg_old', 'ritem:msg_none'], 'team-i'),
    ).toBe(5);
    // only the kept response's bytes are counted now, and the index forgot every deleted key
    expect(Number(await raw.get('b:rec:{team-i}:#used'))).toBe(kept);
    expect(await raw.zcard('b:rec:{team-i}:#idx')).toBe(1);
    expect(await raw.hlen('b:rec:{team-i}:#size')).toBe(1);
    expect((await live('rec', 'team-i')).keys).toEqual(['b:rec:{team-i}:resp:resp_keep']);
    expect(await raw.exists('b:rec:ritem:team-i:msg_old')).toBe(0);
  });

  it("bound each tenant's L2 cache entries apart from its records", async () => {
    // five entries of the longest key fit
    const max = 5 * cost('cache', 'team-h', '19.60', 1_000);
    await one.cacheSet('team-g/keep.60', bytes(1_000, 'g'), MINUTE, max);
    for (let i = 0; i < 20; i++) await two.cacheSet(`team-h/${i}.60`, bytes(1_000, 'h'), MINUTE, max);
    expect((await live('cache', 'team-h')).bytes).toBe(5_000);
    expect((await one.cacheGet('team-g/keep.60'))?.length).toBe(1_000);
    expect(await one.cacheGet('team-h/0.60')).toBeUndefined();
    expect((await one.cacheGet('team-h/19.60'))?.length).toBe(1_000);
  });
});
