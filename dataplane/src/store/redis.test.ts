// The Redis store against a real redis-server: the shared contract, then outages (crash, stall),
// fail-open on the limit/N share, fail-closed, and automatic recovery with the outage usage merged back.
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisServer, startRedis } from '../../../test/helpers/redis.ts';
import { GatewayError } from '../errors.ts';
import { RedisStore, scaleBatch } from './redis.ts';
import { storeContract } from './store_contract.ts';
import type { AdmitBatch } from './types.ts';

let redis: RedisServer;
let shared: RedisStore;

function makeStore(overrides: Partial<ConstructorParameters<typeof RedisStore>[0]> = {}): RedisStore {
  return new RedisStore({
    settings: { url: redis.url, commandTimeoutMs: 200, connectTimeoutMs: 1_000 },
    keyPrefix: 'test:',
    failMode: 'open',
    replicas: 2,
    failureThreshold: 1,
    retryIntervalMs: 100,
    ...overrides,
  });
}

async function until(cond: () => boolean, ms = 5_000): Promise<void> {
  for (let waited = 0; !cond(); waited += 50) {
    if (waited > ms) throw new Error('condition not reached in time');
    await sleep(50);
  }
}

beforeAll(async () => {
  redis = await startRedis();
  shared = makeStore();
  expect(await shared.ready(2_000)).toBe(true);
});
afterAll(async () => {
  await shared?.close();
  await redis?.stop();
});

storeContract('redis', () => shared);

const rateBatch = (key: string): AdmitBatch => ({
  rates: [{ key, emissionMs: 6_000, burst: 10 }],
  concurrency: [],
  windows: [],
  wantOutput: 0,
});

describe('redis store outages', () => {
  it('writes keys under the configured prefix with a TTL bounded by the window', async () => {
    await shared.admit({
      rates: [],
      concurrency: [],
      windows: [{ key: '{ns}:ttl', limit: 10, fixed: 3, perOutput: 0, ttlMs: 5_000, resetMs: 5_000 }],
      wantOutput: 0,
    });
    expect(redis.cli('GET', 'test:{ns}:ttl').trim()).toBe('3');
    const ttl = Number(redis.cli('PTTL', 'test:{ns}:ttl'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(5_000);
  });

  it('scales every limit to the local share of N replicas', () => {
    const scaled = scaleBatch(
      {
        rates: [{ key: 'r', emissionMs: 600, burst: 100 }],
        concurrency: [{ key: 'c', max: 9, id: 'x', leaseMs: 1 }],
        windows: [{ key: 'w', limit: 10_000, fixed: 1, perOutput: 1, ttlMs: 1, resetMs: 1 }],
        wantOutput: 5,
      },
      3,
    );
    expect(scaled.rates[0]).toMatchObject({ emissionMs: 1_800, burst: 33 });
    expect(scaled.concurrency[0]?.max).toBe(3);
    expect(scaled.windows[0]?.limit).toBeCloseTo(3_333.33, 1);
  });

  it('fails open on a crash: the local limit/N share admits, then Redis recovers with the usage merged', async () => {
    const store = makeStore();
    await store.ready(2_000);
    const win = {
      key: '{ns}:outage',
      limit: 1_000,
      fixed: 100,
      perOutput: 0,
      ttlMs: 60_000,
      resetMs: 60_000,
    };
    const before = await store.admit({ rates: [], concurrency: [], windows: [win], wantOutput: 0 });
    expect(before.placement).toBe('primary');
    await redis.kill();
    // replicas: 2 -> this replica may use 500 of the 1000 while alone: 5 requests of 100.
    const during: boolean[] = [];
    for (let i = 0; i < 7; i++) {
      const r = await store.admit({ rates: [], concurrency: [], windows: [win], wantOutput: 0 });
      expect(r.placement).toBe('fallback');
      during.push(r.result.ok);
    }
    expect(during).toEqual([true, true, true, true, true, false, false]);
    expect(store.health()).toMatchObject({ type: 'redis', healthy: false, mode: 'local-fallback' });
    await redis.restart();
    await until(() => store.health().healthy);
    expect(store.health().mode).toBe('shared');
    // The restarted Redis is empty; the 500 units counted locally were merged back into it.
    expect(Number(redis.cli('GET', 'test:{ns}:outage').trim())).toBe(500);
    const after = await store.admit({ rates: [], concurrency: [], windows: [win], wantOutput: 0 });
    expect(after.placement).toBe('primary');
    expect(after.result).toMatchObject({ ok: true, windowsUsed: [600] });
    await store.close();
    // The shared store of the contract suite reconnects too.
    await until(() => shared.health().healthy);
  });

  it('fails closed with 503 SLUICE_ERR_STORE_UNAVAILABLE and recovers by itself', async () => {
    const store = makeStore({ failMode: 'closed' });
    await store.ready(2_000);
    await redis.kill();
    const err = await store.admit(rateBatch('{ns}:closed')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayError);
    expect(err).toMatchObject({ code: 'SLUICE_ERR_STORE_UNAVAILABLE', status: 503 });
    expect(store.health()).toMatchObject({ healthy: false, mode: 'unavailable' });
    await redis.restart();
    await until(() => store.health().healthy);
    const ok = await store.admit(rateBatch('{ns}:closed'));
    expect(ok).toMatchObject({ placement: 'primary', result: { ok: true } });
    await store.close();
    await until(() => shared.health().healthy);
  });

  it('a connection that drops while starting does not leave the circuit open once Redis is ready', async () => {
    // Redis away when the store starts: the failed connect trips the circuit. When Redis comes up,
    // 'ready' must close it at once, not after the next recovery probe (here: a minute away).
    await redis.kill();
    const store = makeStore({ failMode: 'closed', retryIntervalMs: 60_000 });
    try {
      await until(() => !store.health().healthy);
      await redis.restart();
      expect(await store.ready(5_000)).toBe(true);
      const ok = await store.admit(rateBatch('{ns}:start'));
      expect(ok).toMatchObject({ placement: 'primary', result: { ok: true } });
      expect(store.health()).toMatchObject({ healthy: true, mode: 'shared' });
    } finally {
      await store.close();
    }
    await until(() => shared.health().healthy);
  });

  it('never waits on a stalled Redis longer than the command timeout', async () => {
    const store = makeStore({ settings: { url: redis.url, commandTimeoutMs: 100, connectTimeoutMs: 1_000 } });
    await store.ready(2_000);
    redis.pause();
    try {
      const t0 = Date.now();
      const r = await store.admit(rateBatch('{ns}:stall'));
      const waited = Date.now() - t0;
      expect(r.placement).toBe('fallback');
      expect(r.result.ok).toBe(true);
      // Bounded, not a benchmark: far below any client timeout, far above the 100 ms setting.
      expect(waited).toBeLessThan(2_000);
    } finally {
      redis.resume();
    }
    await until(() => store.health().healthy);
    await store.close();
  });

  it('gives up on a reply that never comes after the late-reply bound, and charges a lost admission once', async () => {
    const store = makeStore({
      settings: { url: redis.url, commandTimeoutMs: 100, connectTimeoutMs: 1_000 },
      lateReplyMs: 500,
    });
    await store.ready(2_000);
    await store.recordSet('late', Buffer.from('x'), 60_000, { tenant: 't', maxBytes: 1_000 });
    const win = {
      key: '{ns}:late-win',
      limit: 1_000,
      fixed: 10,
      perOutput: 0,
      ttlMs: 60_000,
      resetMs: 60_000,
    };
    const batch = { rates: [], concurrency: [], windows: [win], wantOutput: 0 };
    const reservation = { key: '{ns}:late-rsv', ttlMs: 60_000 };
    redis.pause();
    try {
      // a record has no deadline of its own: the bound ends the wait (ioredis no longer times commands)
      expect(String(await store.recordGet('late', 't').catch((e: unknown) => e))).toMatch(
        /no reply within 500 ms/,
      );
      const r = await store.admit({ ...batch, reservation });
      expect(r.placement).toBe('fallback');
      // once the bound passes, the lost call is cancelled by id (queued: Redis is still stalled)
      await until(() => store.health().pendingOps === 1, 3_000);
    } finally {
      redis.resume();
    }
    await until(() => store.health().healthy && store.health().pendingOps === 0);
    // the stalled admission ran when Redis resumed and was undone; the local share's usage was merged
    const client = new Redis(redis.url);
    expect(Number(await client.get('test:{ns}:late-win'))).toBe(10);
    client.disconnect();
    await store.close();
  });

  it('replays settlements that failed during the outage, freeing concurrency slots held in Redis', async () => {
    const store = makeStore({ replicas: 1 });
    await store.ready(2_000);
    const slot = { key: '{ns}:conc', max: 1, id: 'req-1', leaseMs: 600_000 };
    const a = await store.admit({ rates: [], concurrency: [slot], windows: [], wantOutput: 0 });
    expect(a).toMatchObject({ placement: 'primary', result: { ok: true } });
    redis.pause();
    await store.settle({ windows: [], concurrency: [{ key: slot.key, id: 'req-1' }] }, 'primary');
    redis.resume();
    await until(() => store.health().healthy);
    const client = new Redis(redis.url);
    expect(await client.zcard('test:{ns}:conc')).toBe(0);
    client.disconnect();
    await store.close();
  });
});
