// Each tenant's records in Redis (stored responses, items, L2 cache entries) are bounded in bytes,
// exactly, by a script per write (redis_bounded.ts). Against a real redis-server: a flood from one
// tenant stays within its bound even from two replicas at once, costs that tenant its own oldest
// records, and never evicts another tenant's (here Redis runs with a small maxmemory and allkeys-lru,
// as caches are often run: without the bound, the flood made Redis evict the other tenant's records).
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisServer, startRedis } from '../../../test/helpers/redis.ts';
import { RedisStore } from './redis.ts';
import { EVICT_MAX } from './redis_bounded.ts';

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

/** a tenant's live record keys of one kind and their total size, as Redis holds them */
async function live(kind: string, tenant: string): Promise<{ keys: string[]; bytes: number }> {
  const keys = (await raw.keys(`b:${kind}:{${tenant}}:*`)).filter((k) => !k.includes(':#'));
  let total = 0;
  for (const k of keys) total += await raw.strlen(k);
  return { keys, bytes: total };
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
    expect(a.bytes).toBeLessThanOrEqual(bound.maxBytes);
    expect(a.keys.length).toBe(Math.floor(bound.maxBytes / 50_000));
    // the bound's own count is the truth Redis holds
    expect(Number(await raw.get('b:rec:{team-a}:#used'))).toBe(a.bytes);
  });

  it("make room by deleting the tenant's own oldest records first", async () => {
    const bound = { tenant: 'team-c', maxBytes: 10_000 };
    for (let i = 1; i <= 4; i++)
      expect(await one.recordSet(`resp:c${i}`, bytes(3_000, 'c'), MINUTE, bound)).toBe(true);
    expect(await one.recordGet('resp:c1', 'team-c')).toBeUndefined();
    for (let i = 2; i <= 4; i++) expect(await one.recordGet(`resp:c${i}`, 'team-c')).toBeDefined();
    // rewriting a record replaces its size, it does not add to it
    await one.recordSet('resp:c4', bytes(1_000, 'c'), MINUTE, bound);
    expect(Number(await raw.get('b:rec:{team-c}:#used'))).toBe(7_000);
    // a deleted record gives its bytes back
    expect(await one.recordDelete(['resp:c2'], 'team-c')).toBe(1);
    expect(Number(await raw.get('b:rec:{team-c}:#used'))).toBe(4_000);
    expect(await one.recordDelete(['resp:c2'], 'team-c')).toBe(0);
    // larger than the whole bound: not stored, nothing else lost
    expect(await one.recordSet('resp:huge', bytes(10_001, 'c'), MINUTE, bound)).toBe(false);
    expect(await one.recordGet('resp:huge', 'team-c')).toBeUndefined();
    expect((await live('rec', 'team-c')).keys.length).toBe(2);
  });

  it('make room by at most EVICT_MAX deletions per write: a write that needs more is not stored, the next goes on', async () => {
    const n = EVICT_MAX + 500;
    const bound = { tenant: 'team-g', maxBytes: n * 10 };
    // n tiny records fill the bound (written concurrently: n round trips one by one are slow)
    const keys = Array.from({ length: n }, (_, i) => `resp:g${i}`);
    await Promise.all(keys.map((k) => one.recordSet(k, bytes(10, 'g'), MINUTE, bound)));
    expect(Number(await raw.get('b:rec:{team-g}:#used'))).toBe(n * 10);
    // a record as large as the whole bound needs every one of them gone
    expect(await one.recordSet('resp:big', bytes(n * 10, 'G'), MINUTE, bound)).toBe(false);
    expect((await live('rec', 'team-g')).keys.length).toBe(500);
    expect(Number(await raw.get('b:rec:{team-g}:#used'))).toBe(500 * 10);
    expect(await raw.pttl('b:rec:{team-g}:#used')).toBeGreaterThan(0);
    // the next write finds the rest within its share and is stored
    expect(await one.recordSet('resp:big', bytes(n * 10, 'G'), MINUTE, bound)).toBe(true);
    expect((await live('rec', 'team-g')).keys).toEqual(['b:rec:{team-g}:resp:big']);
    expect(Number(await raw.get('b:rec:{team-g}:#used'))).toBe(n * 10);
  });

  it('keep counting a record whose rewrite was not stored (it stays, so its bytes stay in the bound)', async () => {
    // A rewrite forgot the old record's bytes before it knew whether the new value could be stored:
    // when making room took more than EVICT_MAX deletions, the old value stayed in Redis, uncounted
    // until its TTL, outside the tenant's bound (a cache key two identical requests both wrote).
    const n = EVICT_MAX + 500;
    const bound = { tenant: 'team-k', maxBytes: 100 + n * 10 };
    expect(await one.recordSet('resp:kept', bytes(100, 'k'), MINUTE, bound)).toBe(true);
    const keys = Array.from({ length: n }, (_, i) => `resp:h${i}`);
    await Promise.all(keys.map((k) => one.recordSet(k, bytes(10, 'h'), MINUTE, bound)));
    expect(await one.recordSet('resp:kept', bytes(bound.maxBytes, 'K'), MINUTE, bound)).toBe(false);
    const after = await live('rec', 'team-k');
    expect(after.keys).toContain('b:rec:{team-k}:resp:kept');
    expect((await one.recordGet('resp:kept', 'team-k'))?.toString()).toBe('k'.repeat(100));
    expect(Number(await raw.get('b:rec:{team-k}:#used'))).toBe(after.bytes);
    expect(await raw.zscore('b:rec:{team-k}:#idx', 'b:rec:{team-k}:resp:kept')).not.toBeNull();
  });

  it('forget records that expired, so they take no room', async () => {
    const bound = { tenant: 'team-d', maxBytes: 10_000 };
    await one.recordSet('resp:old', bytes(9_000, 'd'), 100, bound);
    await new Promise((r) => setTimeout(r, 200));
    await one.recordSet('resp:new', bytes(9_000, 'd'), MINUTE, bound);
    expect(Number(await raw.get('b:rec:{team-d}:#used'))).toBe(9_000);
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
    const got = await two.recordGetMany([...items, 'ritem:msg_none', 'ritem:msg_old'], 'team-i');
    expect(got.map((v) => v?.length)).toEqual([1_000, 1_000, 1_000, undefined, 3]);
    // one MGET for the tenant's keys, one for the two it did not hold (at their pre-bound keys)
    expect((await mgets()) - before).toBe(2);
    // another tenant naming the same ids finds none of them
    expect(await two.recordGetMany(items, 'team-j')).toEqual([undefined, undefined, undefined]);
    expect(Number(await raw.get('b:rec:{team-i}:#used'))).toBe(7_500);
    expect(
      await two.recordDelete(['resp:resp_i', ...items, 'ritem:msg_old', 'ritem:msg_none'], 'team-i'),
    ).toBe(5);
    // only the kept response's bytes are counted now, and the index forgot every deleted key
    expect(Number(await raw.get('b:rec:{team-i}:#used'))).toBe(500);
    expect(await raw.zcard('b:rec:{team-i}:#idx')).toBe(1);
    expect(await raw.hlen('b:rec:{team-i}:#size')).toBe(1);
    expect((await live('rec', 'team-i')).keys).toEqual(['b:rec:{team-i}:resp:resp_keep']);
    expect(await raw.exists('b:rec:ritem:team-i:msg_old')).toBe(0);
  });

  it("bound each tenant's L2 cache entries apart from its records", async () => {
    await one.cacheSet('team-g/keep.60', bytes(1_000, 'g'), MINUTE, 5_000);
    for (let i = 0; i < 20; i++) await two.cacheSet(`team-h/${i}.60`, bytes(1_000, 'h'), MINUTE, 5_000);
    expect((await live('cache', 'team-h')).bytes).toBe(5_000);
    expect((await one.cacheGet('team-g/keep.60'))?.length).toBe(1_000);
    expect(await one.cacheGet('team-h/0.60')).toBeUndefined();
    expect((await one.cacheGet('team-h/19.60'))?.length).toBe(1_000);
  });
});
