import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisServer, startRedis } from '../../../test/helpers/redis.ts';
import { MemoryStore } from '../store/memory.ts';
import { RedisStore } from '../store/redis.ts';
import { responseCacheKey, ttlOfKey } from './key.ts';
import { LruCache } from './lru.ts';
import { ResponseCache } from './response_cache.ts';

const parts = { namespace: 'a', route: 'r', api: 'openai-chat', ttlSeconds: 60 };

describe('cache key', () => {
  it('ignores key order and transport fields, not content', () => {
    const k = responseCacheKey({
      ...parts,
      body: { model: 'm', messages: [{ role: 'user', content: 'x' }], n: 1 },
    });
    expect(
      responseCacheKey({
        ...parts,
        body: { n: 1, stream: false, messages: [{ content: 'x', role: 'user' }], model: 'm' },
      }),
    ).toBe(k);
    expect(
      responseCacheKey({ ...parts, body: { model: 'm', messages: [{ role: 'user', content: 'y' }], n: 1 } }),
    ).not.toBe(k);
    expect(ttlOfKey(k)).toBe(60);
  });

  it('differs per namespace and route', () => {
    const body = { model: 'm' };
    const k = responseCacheKey({ ...parts, body });
    expect(responseCacheKey({ ...parts, namespace: 'b', body })).not.toBe(k);
    expect(responseCacheKey({ ...parts, route: 'other', body })).not.toBe(k);
  });
});

describe('L1 LRU', () => {
  it('evicts least recently used entries past the count and byte bounds', () => {
    let now = 0;
    const lru = new LruCache({ maxEntries: 2, maxBytes: 10, maxEntryBytes: 8 }, () => now);
    lru.set('a', Buffer.from('aaaa'), 100);
    lru.set('b', Buffer.from('bbbb'), 100);
    lru.get('a');
    lru.set('c', Buffer.from('cc'), 100);
    expect([lru.get('a') !== undefined, lru.get('b') !== undefined, lru.get('c') !== undefined]).toEqual([
      true,
      false,
      true,
    ]);
    expect(lru.set('big', Buffer.from('123456789'), 100)).toBe(false);
    lru.set('d', Buffer.from('dddddddd'), 100);
    expect(lru.bytes).toBeLessThanOrEqual(10);
    now = 200;
    expect(lru.get('d')).toBeUndefined();
  });
});

describe('L1 LRU memory', () => {
  it('keeps each value in memory of its own, never a slice of a shared pool or a larger read', () => {
    const lru = new LruCache({ maxEntries: 10, maxBytes: 1_000, maxEntryBytes: 100 });
    // a small Buffer.from is a slice of Node's shared pool (64 KiB on Node 24); a subarray, of its read
    const pooled = Buffer.from('a small answer');
    const read = Buffer.alloc(4_096, 'r');
    expect(pooled.buffer.byteLength).toBeGreaterThan(pooled.length);
    lru.set('p', pooled, Number.MAX_SAFE_INTEGER);
    lru.set('s', read.subarray(8, 40), Number.MAX_SAFE_INTEGER);
    expect(lru.get('p')?.value.buffer.byteLength).toBe(pooled.length);
    expect(lru.get('p')?.value.toString()).toBe('a small answer');
    expect(lru.get('s')?.value.buffer.byteLength).toBe(32);
  });

  it('counts each entry its key and entryOverhead when asked (a store bounded in bytes alone)', () => {
    const lru = new LruCache({
      maxEntries: Number.POSITIVE_INFINITY,
      maxBytes: 1_000,
      maxEntryBytes: 1_000,
      entryOverhead: 100,
    });
    lru.set('t/a', Buffer.from('0123456789'), Number.MAX_SAFE_INTEGER);
    expect(lru.bytes).toBe(10 + 3 + 100);
    for (let i = 0; i < 20; i++) lru.set(`t/${i}`, Buffer.from('0123456789'), Number.MAX_SAFE_INTEGER);
    expect(lru.bytes).toBeLessThanOrEqual(1_000);
    expect(lru.size).toBe(8);
    // an entry whose overhead alone passes the bound is not kept
    expect(lru.set('t/x'.repeat(400), Buffer.from('x'), Number.MAX_SAFE_INTEGER)).toBe(false);
  });
});

describe('L1 LRU between tenants', () => {
  it("evicts the largest holder's least recently used entries: a flood evicts only its own", () => {
    const lru = new LruCache({ maxEntries: 10, maxBytes: 100, maxEntryBytes: 20 });
    const victim = responseCacheKey({ ...parts, namespace: 'victim', body: { q: 'mine' } });
    lru.set(victim, Buffer.from('0123456789'), Number.MAX_SAFE_INTEGER);
    // the flooder writes far past both bounds: 50 entries, 500 bytes
    let last = '';
    for (let i = 0; i < 50; i++) {
      last = responseCacheKey({ ...parts, namespace: 'flood', body: { q: i } });
      lru.set(last, Buffer.from('0123456789'), Number.MAX_SAFE_INTEGER);
    }
    expect(lru.get(victim)?.value.toString()).toBe('0123456789');
    expect(lru.get(last)).toBeDefined();
    expect(lru.size).toBeLessThanOrEqual(10);
    expect(lru.bytes).toBeLessThanOrEqual(100);
    // a tenant holding more than the others is the one that gives way, whoever writes
    const first = responseCacheKey({ ...parts, namespace: 'flood', body: { q: 41 } });
    expect(lru.get(first)).toBeDefined();
    lru.set(responseCacheKey({ ...parts, namespace: 'victim', body: { q: 2 } }), Buffer.from('x'), 1e15);
    expect(lru.get(victim)).toBeDefined();
  });
});

describe('response cache', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis?.stop());
  const cfg = { maxEntries: 100, maxEntryBytes: 1_000, maxBytes: 10_000, redisMaxBytesPerTenant: 100_000 };
  const key = responseCacheKey({ ...parts, ttlSeconds: 1, body: { q: 1 } });

  it('shares entries between replicas through Redis and expires them with the TTL', async () => {
    const mk = () =>
      new RedisStore({
        settings: { url: redis.url, commandTimeoutMs: 500, connectTimeoutMs: 1_000 },
        keyPrefix: 'c:',
        failMode: 'open',
        replicas: 1,
        failureThreshold: 3,
        retryIntervalMs: 200,
      });
    const [s1, s2] = [mk(), mk()];
    await Promise.all([s1.ready(2_000), s2.ready(2_000)]);
    const [c1, c2] = [new ResponseCache(cfg, s1), new ResponseCache(cfg, s2)];
    await c1.set(key, '{"answer":1}');
    expect((await c2.get(key))?.toString()).toBe('{"answer":1}');
    expect(c2.stats().entries).toBe(1);
    await new Promise((r) => setTimeout(r, 1_100));
    expect(await c1.get(key)).toBeUndefined();
    expect(await c2.get(key)).toBeUndefined();
    await Promise.all([s1.close(), s2.close()]);
  });

  it('skips entries above maxEntryBytes and works without an L2', async () => {
    const store = new MemoryStore();
    const c = new ResponseCache(cfg, store);
    await c.set(key, 'x'.repeat(1_001));
    expect(await c.get(key)).toBeUndefined();
    await c.set(key, 'ok');
    expect((await c.get(key))?.toString()).toBe('ok');
    await store.close();
  });
});
