// The admission protocol against a real redis-server (docs/policies.md "Admission protocol"): a busy
// event loop is not a Redis outage; a reply that comes too late is reconciled (the Redis side is
// cancelled by id, the request is charged where it was served); a cancelled id can never charge later.
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisServer, startRedis } from '../../../test/helpers/redis.ts';
import { acquireLoopLag, withinDeadline } from './deadline.ts';
import { RedisStore } from './redis.ts';
import { scripts } from './redis_scripts.ts';
import type { AdmitBatch } from './types.ts';

let redis: RedisServer;
let client: Redis;

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
});
afterAll(async () => {
  client?.disconnect();
  await redis?.stop();
});

function makeStore(commandTimeoutMs: number, prefix: string): RedisStore {
  return new RedisStore({
    settings: { url: redis.url, commandTimeoutMs, connectTimeoutMs: 1_000 },
    keyPrefix: prefix,
    failMode: 'open',
    replicas: 1,
    failureThreshold: 1,
    retryIntervalMs: 100,
  });
}

function batch(ns: string, id: string): AdmitBatch {
  return {
    rates: [{ key: `{${ns}}:rq`, emissionMs: 60_000, burst: 10 }],
    concurrency: [{ key: `{${ns}}:cc`, max: 5, id, leaseMs: 600_000 }],
    windows: [{ key: `{${ns}}:w`, limit: 1_000, fixed: 40, perOutput: 1, ttlMs: 60_000, resetMs: 60_000 }],
    wantOutput: 60,
    reservation: { key: `{${ns}}:rsv:${id}`, ttlMs: 600_000 },
  };
}

/** Freeze this thread (a burst, a GC pause, a throttled pod) for `ms`. */
function blockLoop(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // busy: nothing else on this event loop runs meanwhile
  }
}

async function until(cond: () => Promise<boolean> | boolean, ms = 5_000): Promise<void> {
  for (let waited = 0; !(await cond()); waited += 50) {
    if (waited > ms) throw new Error('condition not reached in time');
    await sleep(50);
  }
}

describe('admission protocol', () => {
  it('a reply that waited on a blocked event loop is not a timeout', async () => {
    const store = makeStore(50, 'lag:');
    expect(await store.ready(2_000)).toBe(true);
    const pending = store.admit(batch('lag', 'a'));
    // The reply arrives within a millisecond, but this loop cannot read it for 400 ms: 8x the timeout.
    blockLoop(400);
    const r = await pending;
    expect(r).toMatchObject({ placement: 'primary', result: { ok: true, grant: 60 } });
    expect(store.health()).toMatchObject({ healthy: true, mode: 'shared' });
    expect(Number(await client.get('lag:{lag}:w'))).toBe(100);
    await store.close();
  });

  it('a late reply is reconciled: served on the local share, and the Redis reservation cancelled by id', async () => {
    const store = makeStore(100, 'late:');
    expect(await store.ready(2_000)).toBe(true);
    redis.pause(); // the command reaches Redis but runs only when it resumes: its reply comes late
    let r: Awaited<ReturnType<RedisStore['admit']>>;
    try {
      r = await store.admit(batch('late', 'b'));
    } finally {
      redis.resume();
    }
    expect(r).toMatchObject({ placement: 'fallback', result: { ok: true } });
    // The admission did run in Redis once it resumed; the store cancels it (slot and rate slot back,
    // a tombstone in place of the record) and merges the local charge instead: 100 once, not 200.
    await until(async () => (await client.get('late:{late}:rsv:b')) === 'x');
    await until(() => store.health().healthy && store.health().pendingOps === 0);
    expect(Number(await client.get('late:{late}:w'))).toBe(100);
    expect(await client.zcard('late:{late}:cc')).toBe(0);
    expect(await client.get('late:{late}:rq')).toBeNull();
    // The request settles where it was served; nothing of it reaches Redis twice.
    await store.settle(
      {
        windows: [{ key: '{late}:w', delta: -50 }],
        concurrency: [{ key: '{late}:cc', id: 'b' }],
        reservation: '{late}:rsv:b',
      },
      r.placement,
    );
    await until(() => store.health().healthy && store.health().pendingOps === 0);
    await until(async () => Number(await client.get('late:{late}:w')) === 50);
    await store.close();
  });

  it('a cancelled id never charges, even if its admission reaches Redis after the cancel', async () => {
    const b = batch('tomb', 'c');
    const keys = [
      ...b.rates.map((x) => x.key),
      ...b.concurrency.map((x) => x.key),
      ...b.windows.map((x) => x.key),
    ]
      .concat(b.reservation?.key ?? '')
      .map((k) => `tomb:${k}`);
    const spec = JSON.stringify({
      r: b.rates.map((x) => [x.emissionMs, x.burst]),
      c: b.concurrency.map((x) => [x.max, x.id, x.leaseMs]),
      w: b.windows.map((x) => [x.limit, x.fixed, x.perOutput, x.ttlMs, x.resetMs]),
      o: b.wantOutput,
      v: 600_000,
    });
    // The outcome was unknown and Redis came back: cancel first (no record yet: only a tombstone)...
    expect(await client.eval(scripts.cancel.source, keys.length, ...keys, spec, '0', 60_000)).toBe(0);
    // ...then the admission, still in flight on the old connection, arrives: refused, nothing charged.
    const reply = JSON.parse(String(await client.eval(scripts.admitMany.source, keys.length, ...keys, spec)));
    expect(reply).toEqual([{ ok: false, kind: 'cancelled' }]);
    expect(await client.get('tomb:{tomb}:w')).toBeNull();
    expect(await client.zcard('tomb:{tomb}:cc')).toBe(0);
  });

  it('still times out on a stalled Redis when the loop is idle', async () => {
    const held = acquireLoopLag();
    try {
      const never = new Promise<never>(() => {});
      const t0 = performance.now();
      const r = await withinDeadline(never, 100, 2_000, held.lag);
      const waited = performance.now() - t0;
      expect(r).toMatchObject({ ok: false, timedOut: true });
      // generous bound: the wait ends near the timeout, not at the 2 s cap
      expect(waited).toBeGreaterThanOrEqual(100);
      expect(waited).toBeLessThan(1_500);
    } finally {
      held.release();
    }
  });
});
