// Coalesced script calls against a real redis-server: the admissions and settlements of one
// event-loop turn reach Redis as ONE call (counted by Redis itself, with MONITOR), every batch in it is
// applied exactly once and exactly as if it had been sent alone, a batch Redis refuses leaves the others
// applied, and a call lost to a stalled Redis is replayed without applying anything twice.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type RedisServer, startRedis } from '../../../test/helpers/redis.ts';
import { RedisStore } from './redis.ts';
import { RefusedBatch } from './redis_admission.ts';
import { MAX_BATCHES_PER_CALL } from './redis_coalesce.ts';
import { scripts } from './redis_scripts.ts';
import type { AdmitBatch, SettleBatch } from './types.ts';

let redis: RedisServer;
let client: Redis;
let monitor: Redis | undefined;
const stores: RedisStore[] = [];

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
});
afterEach(async () => {
  monitor?.disconnect();
  monitor = undefined;
  for (const s of stores.splice(0)) await s.close();
});
afterAll(async () => {
  client?.disconnect();
  await redis?.stop();
});

async function makeStore(commandTimeoutMs = 2_000): Promise<RedisStore> {
  const store = new RedisStore({
    settings: { url: redis.url, commandTimeoutMs, connectTimeoutMs: 2_000 },
    keyPrefix: 'co:',
    failMode: 'open',
    replicas: 1,
    failureThreshold: 1,
    retryIntervalMs: 100,
  });
  stores.push(store);
  expect(await store.ready(2_000)).toBe(true);
  return store;
}

interface ScriptCalls {
  admitMany: number;
  settleMany: number;
  other: number;
  /** resolves once Redis's MONITOR feed has shown every command sent before this call */
  caughtUp(): Promise<void>;
}

/** Counts, as Redis saw them, the calls of each script from now on. */
async function countScriptCalls(): Promise<ScriptCalls> {
  const marks = new Set<string>();
  const seen: ScriptCalls = {
    admitMany: 0,
    settleMany: 0,
    other: 0,
    async caughtUp() {
      // MONITOR reports commands in the order Redis ran them: once a marker sent now shows, so has
      // everything before it
      const mark = `mark-${randomUUID()}`;
      await client.echo(mark);
      await until(() => marks.has(mark));
    },
  };
  monitor = await new Redis(redis.url).monitor();
  monitor.on('monitor', (_time: string, args: string[]) => {
    const cmd = args[0]?.toLowerCase();
    if (cmd === 'echo' && args[1]) marks.add(args[1]);
    if (cmd !== 'evalsha' && cmd !== 'eval') return;
    if (args[1] === scripts.admitMany.sha) seen.admitMany++;
    else if (args[1] === scripts.settleMany.sha) seen.settleMany++;
    else seen.other++;
  });
  await seen.caughtUp();
  return seen;
}

const counts = ({ admitMany, settleMany, other }: ScriptCalls) => ({ admitMany, settleMany, other });

async function until(cond: () => Promise<boolean> | boolean, ms = 5_000): Promise<void> {
  for (let waited = 0; !(await cond()); waited += 50) {
    if (waited > ms) throw new Error('condition not reached in time');
    await sleep(50);
  }
}

/** A request's batch: a rate slot, a concurrency slot, input 10 + output into a shared window. */
function request(ns: string, id: string, windowLimit = 100_000): AdmitBatch {
  return {
    rates: [{ key: `{${ns}}:rq`, emissionMs: 1, burst: 1_000 }],
    concurrency: [{ key: `{${ns}}:cc`, max: 1_000, id, leaseMs: 600_000 }],
    windows: [
      { key: `{${ns}}:w`, limit: windowLimit, fixed: 10, perOutput: 1, ttlMs: 60_000, resetMs: 60_000 },
    ],
    wantOutput: 20,
    reservation: { key: `{${ns}}:rsv:${id}`, ttlMs: 600_000 },
  };
}

/** The settlement of `request(ns, id)`: the request used `used` of its 30 reserved units. */
function settlement(ns: string, id: string, used: number): SettleBatch {
  return {
    windows: [{ key: `{${ns}}:w`, delta: used - 30 }],
    concurrency: [{ key: `{${ns}}:cc`, id }],
    reservation: `{${ns}}:rsv:${id}`,
  };
}

const N = 20;

describe('coalesced script calls', () => {
  it('sends the settlements of one turn as ONE call and applies each exactly once', async () => {
    const store = await makeStore();
    const ns = `s-${randomUUID()}`;
    const ids = Array.from({ length: N }, (_, i) => `r${i}`);
    for (const id of ids) expect((await store.admit(request(ns, id))).result.ok).toBe(true);
    expect(Number(await client.get(`co:{${ns}}:w`))).toBe(N * 30);
    const seen = await countScriptCalls();
    // request i used i units of its 30: the window ends at the sum of what was used
    await Promise.all(ids.map((id, i) => store.settle(settlement(ns, id, i), 'primary')));
    await seen.caughtUp();
    expect(counts(seen)).toEqual({ admitMany: 0, settleMany: 1, other: 0 });
    const used = (N * (N - 1)) / 2;
    expect(Number(await client.get(`co:{${ns}}:w`))).toBe(used);
    expect(await client.zcard(`co:{${ns}}:cc`)).toBe(0);
    expect(await client.exists(...ids.map((id) => `co:{${ns}}:rsv:${id}`))).toBe(0);
    // delivered again (a replay after a lost reply): nothing changes, still one call
    await Promise.all(ids.map((id, i) => store.settle(settlement(ns, id, i), 'primary')));
    await seen.caughtUp();
    expect(seen.settleMany).toBe(2);
    expect(Number(await client.get(`co:{${ns}}:w`))).toBe(used);
  });

  it('admits a turn of requests in ONE call, exactly at the limit boundary', async () => {
    const store = await makeStore();
    const ns = `a-${randomUUID()}`;
    // 30 units per request, 250 allowed: 8 requests get their full 20 of output (240), the 9th gets
    // what is left (10 input fits, 0 output does not: denied), none beyond.
    const seen = await countScriptCalls();
    const results = await Promise.all(
      Array.from({ length: N }, (_, i) => store.admit(request(ns, `r${i}`, 250))),
    );
    await seen.caughtUp();
    expect(counts(seen)).toEqual({ admitMany: 1, settleMany: 0, other: 0 });
    const granted = results.filter((r) => r.result.ok);
    expect(granted.length).toBe(8);
    expect(results.every((r) => r.placement === 'primary')).toBe(true);
    // each request sees the counters the ones before it left, as if sent one by one
    expect(granted.map((r) => (r.result.ok ? r.result.windowsUsed[0] : -1))).toEqual([
      30, 60, 90, 120, 150, 180, 210, 240,
    ]);
    expect(Number(await client.get(`co:{${ns}}:w`))).toBe(240);
    expect(await client.zcard(`co:{${ns}}:cc`)).toBe(8);
    // a denied request wrote no reservation record: nothing to settle, nothing to leak
    const denied = results.findIndex((r) => !r.result.ok);
    expect(await client.exists(`co:{${ns}}:rsv:r${denied}`)).toBe(0);
  });

  it("sends a turn's settlements before its admissions: what they give back is there for them", async () => {
    const store = await makeStore();
    const ns = `o-${randomUUID()}`;
    // r0 takes the whole window of 30
    expect((await store.admit(request(ns, 'r0', 30))).result.ok).toBe(true);
    const seen = await countScriptCalls();
    // in one turn r1 asks first, then r0 ends having used nothing: r1 fits, as it would have when
    // each call went out the moment it was made
    const [r1] = await Promise.all([
      store.admit(request(ns, 'r1', 30)),
      store.settle(settlement(ns, 'r0', 0), 'primary'),
    ]);
    expect(r1).toMatchObject({ placement: 'primary', result: { ok: true, grant: 20, windowsUsed: [30] } });
    await seen.caughtUp();
    expect(counts(seen)).toEqual({ admitMany: 1, settleMany: 1, other: 0 });
  });

  it('splits a turn larger than one call may carry, and stays exact across its calls', async () => {
    const store = await makeStore();
    const ns = `m-${randomUUID()}`;
    const seen = await countScriptCalls();
    // 150 requests of 30 units against 3,000: exactly 100 fit, whichever call each is in
    const results = await Promise.all(
      Array.from({ length: 150 }, (_, i) => store.admit(request(ns, `r${i}`, 3_000))),
    );
    await seen.caughtUp();
    expect(seen.admitMany).toBe(Math.ceil(150 / MAX_BATCHES_PER_CALL));
    expect(results.filter((r) => r.result.ok).length).toBe(100);
    expect(results.every((r) => r.placement === 'primary')).toBe(true);
    expect(Number(await client.get(`co:{${ns}}:w`))).toBe(3_000);
  });

  it('stays exact across replicas admitting in the same turns', async () => {
    const [a, b] = [await makeStore(), await makeStore()];
    const ns = `x-${randomUUID()}`;
    const rate: AdmitBatch = {
      rates: [{ key: `{${ns}}:rq`, emissionMs: 60_000, burst: 25 }],
      concurrency: [],
      windows: [],
      wantOutput: 0,
    };
    // 40 requests in one turn, half through each replica: 2 calls racing for a bucket of 25
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).admit(rate)));
    expect(results.filter((r) => r.result.ok).length).toBe(25);
    expect(results.every((r) => r.placement === 'primary')).toBe(true);
  });

  it('a batch Redis refuses fails alone: the others in its call are applied, the circuit stays closed', async () => {
    const store = await makeStore();
    const ns = `b-${randomUUID()}`;
    const bad = `b-${randomUUID()}`;
    for (const id of ['r0', 'r1', 'r2']) await store.admit(request(ns, id));
    await store.admit(request(bad, 'r0'));
    // the bad request's window key is overwritten with a hash: Redis refuses to GET it
    await client.del(`co:{${bad}}:w`);
    await client.hset(`co:{${bad}}:w`, 'f', '1');
    const seen = await countScriptCalls();
    const outcomes = await Promise.allSettled([
      store.settle(settlement(ns, 'r0', 5), 'primary'),
      store.settle(settlement(bad, 'r0', 5), 'primary'),
      store.settle(settlement(ns, 'r1', 5), 'primary'),
      store.settle(settlement(ns, 'r2', 5), 'primary'),
    ]);
    await seen.caughtUp();
    expect(seen.settleMany).toBe(1);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect((outcomes[1] as PromiseRejectedResult).reason).toBeInstanceOf(RefusedBatch);
    expect(Number(await client.get(`co:{${ns}}:w`))).toBe(15);
    expect(await client.zcard(`co:{${ns}}:cc`)).toBe(0);
    // nothing of the refused batch was written: its record and its slot are still there
    expect(await client.exists(`co:{${bad}}:rsv:r0`)).toBe(1);
    expect(await client.zcard(`co:{${bad}}:cc`)).toBe(1);
    // Redis answered: not an outage, and not queued for a replay that would be refused again
    expect(store.health()).toMatchObject({ healthy: true, mode: 'shared', pendingOps: 0 });

    // the same for admissions: the refused request is served on the local share, the others in Redis
    const admits = await Promise.all([
      store.admit(request(ns, 'r3')),
      store.admit(request(bad, 'r1')),
      store.admit(request(ns, 'r4')),
    ]);
    await seen.caughtUp();
    expect(seen.admitMany).toBe(1);
    expect(admits.map((r) => r.placement)).toEqual(['primary', 'fallback', 'primary']);
    expect(admits.every((r) => r.result.ok)).toBe(true);
    expect(Number(await client.get(`co:{${ns}}:w`))).toBe(75);
    expect(store.health()).toMatchObject({ healthy: true, mode: 'shared' });
  });

  it('a call lost to a stalled Redis is replayed: each settlement applied exactly once', async () => {
    const store = await makeStore(100);
    const ns = `p-${randomUUID()}`;
    const ids = Array.from({ length: N }, (_, i) => `r${i}`);
    for (const id of ids) expect((await store.admit(request(ns, id))).placement).toBe('primary');
    const seen = await countScriptCalls();
    redis.pause(); // the call reaches Redis but runs only when it resumes: its reply comes too late
    try {
      await Promise.all(ids.map((id, i) => store.settle(settlement(ns, id, i), 'primary')));
      // every settlement of the timed-out call is queued for the replay
      expect(store.health().pendingOps).toBe(N);
    } finally {
      redis.resume();
    }
    await until(() => store.health().healthy && store.health().pendingOps === 0);
    // The original call ran when Redis resumed, and the replay after it (one SETTLE_MANY) found
    // every record gone: each settlement counted once, not twice.
    await seen.caughtUp();
    expect(seen.settleMany).toBeGreaterThanOrEqual(2);
    expect(Number(await client.get(`co:{${ns}}:w`))).toBe((N * (N - 1)) / 2);
    expect(await client.zcard(`co:{${ns}}:cc`)).toBe(0);
  });

  it('sends what comes in separate turns separately: nothing waits for company', async () => {
    const store = await makeStore();
    const ns = `t-${randomUUID()}`;
    const seen = await countScriptCalls();
    for (let i = 0; i < 3; i++) await store.admit(request(ns, `r${i}`));
    await seen.caughtUp();
    expect(seen.admitMany).toBe(3);
  });
});
