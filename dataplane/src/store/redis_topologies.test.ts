// The same Lua admission through Sentinel and through a real 3-master Redis Cluster. On Cluster every
// key of one batch must hash to one slot: the {namespace} hash tag makes that so, across policies.
// Records (the Responses API's state) are read and deleted several at a time on both, in their
// tenant's slot.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisGroup, startCluster, startSentinel } from '../../../test/helpers/redis.ts';
import { RedisStore } from './redis.ts';
import { recordCost } from './redis_bounded.ts';
import type { AdmitBatch } from './types.ts';

let sentinel: RedisGroup;
let cluster: RedisGroup;
beforeAll(async () => {
  [sentinel, cluster] = await Promise.all([startSentinel(), startCluster(3)]);
}, 60_000);
afterAll(async () => {
  await sentinel?.stop();
  await cluster?.stop();
});

/** every named record of a tenant, read through the bounded read with a bound that never refuses */
const readAll = async (s: RedisStore, keys: string[], tenant: string) =>
  (await s.recordGetWithin(
    keys,
    tenant,
    keys.map(() => 1),
    Number.MAX_SAFE_INTEGER,
  )) ?? [];

function store(url: string): RedisStore {
  return new RedisStore({
    settings: { url, commandTimeoutMs: 3_000, connectTimeoutMs: 5_000 }, // generous: other suites load the machine
    keyPrefix: 'topo:',
    failMode: 'closed',
    replicas: 1,
    failureThreshold: 3,
    retryIntervalMs: 500,
  });
}

const batch = (ns: string): AdmitBatch => ({
  rates: [{ key: `{${ns}}:a:rq`, emissionMs: 600_000, burst: 2 }],
  concurrency: [{ key: `{${ns}}:b:cc`, max: 5, id: 'r1', leaseMs: 60_000 }],
  windows: [
    { key: `{${ns}}:c:total:d1`, limit: 100, fixed: 10, perOutput: 1, ttlMs: 60_000, resetMs: 60_000 },
  ],
  wantOutput: 20,
});

describe.each([
  ['Sentinel', () => sentinel.url],
  ['Cluster', () => cluster.url],
])('Redis %s', (_name, url) => {
  it('admits, limits and settles atomically', async () => {
    const s = store(url());
    expect(await s.ready(5_000)).toBe(true);
    // Namespaces land on different shards of the cluster; each batch stays within one slot.
    for (const ns of ['alpha', 'beta', 'gamma', 'delta']) {
      const first = await s.admit(batch(ns));
      expect(first).toMatchObject({
        placement: 'primary',
        result: { ok: true, grant: 20, windowsUsed: [30] },
      });
      await s.settle(
        {
          windows: [{ key: `{${ns}}:c:total:d1`, delta: -5 }],
          concurrency: [{ key: `{${ns}}:b:cc`, id: 'r1' }],
        },
        'primary',
      );
      expect((await s.admit(batch(ns))).result).toMatchObject({ ok: true, windowsUsed: [55] });
      expect((await s.admit(batch(ns))).result).toMatchObject({ ok: false, kind: 'rate' });
    }
    // Admissions and settlements of one turn share a call only within a slot: namespaces on other
    // shards in the same turn still each get their answer (failMode closed: a CROSSSLOT would throw).
    const names = ['eta', 'theta', 'iota', 'kappa', 'lambda', 'mu'];
    const turn = await Promise.all(names.map((ns) => s.admit(batch(ns))));
    for (const r of turn) expect(r).toMatchObject({ placement: 'primary', result: { ok: true } });
    await Promise.all(
      names.map((ns) =>
        s.settle({ windows: [{ key: `{${ns}}:c:total:d1`, delta: -20 }], concurrency: [] }, 'primary'),
      ),
    );
    expect(s.health()).toMatchObject({ healthy: true, pendingOps: 0 });
    for (const ns of names) expect((await s.admit(batch(ns))).result).toMatchObject({ windowsUsed: [40] });
    await s.cacheSet('k1', Buffer.from('v1'), 10_000);
    expect((await s.cacheGet('k1'))?.toString()).toBe('v1');
    // a tenant's bounded records (one script over the record and its tenant's index, one slot)
    for (const ns of names) {
      // room for one of the two records
      const bound = { tenant: ns, maxBytes: recordCost(`topo:rec:{${ns}}:resp:r1`, 3) + 1 };
      for (const id of ['r1', 'r2']) await s.recordSet(`resp:${id}`, Buffer.from('abc'), 10_000, bound);
      expect(await s.recordGet('resp:r1', ns)).toBeUndefined();
      expect((await s.recordGet('resp:r2', ns))?.toString()).toBe('abc');
      expect(await s.recordDelete(['resp:r2'], ns)).toBe(1);
    }
    expect(s.health()).toMatchObject({ healthy: true, mode: 'shared' });
    await s.close();
  });

  it("reads and deletes several of a tenant's records at once, all in its slot", async () => {
    const s = store(url());
    expect(await s.ready(5_000)).toBe(true);
    // every record key carries its tenant's hash tag: on the Cluster a tenant's keys are one slot, so
    // one MGET and one delete script serve them (keys on several slots would be a CROSSSLOT error);
    // the tenants themselves spread over the shards
    const keys = ['resp:r', 'ritem:a', 'ritem:b', 'ritem:c', 'ritem:d'];
    for (const ns of ['alpha', 'beta', 'gamma', 'delta']) {
      // room for five 10-byte records
      const bound = { tenant: ns, maxBytes: 5 * recordCost(`topo:rec:{${ns}}:ritem:a`, 10) };
      for (const k of keys) expect(await s.recordSet(k, Buffer.alloc(10, k), 60_000, bound)).toBe(true);
      const got = await readAll(s, [...keys, 'ritem:missing'], ns);
      expect(got.map((v) => v?.toString())).toEqual([
        ...keys.map((k) => Buffer.alloc(10, k).toString()),
        undefined,
      ]);
      expect(await readAll(s, keys, `${ns}-other`)).toEqual(keys.map(() => undefined));
      // the bounded read (sizes first, in one script) works in the tenant's slot too
      expect((await s.recordGetWithin(keys, ns, [1, 1, 1, 1, 1], 50))?.map((v) => v?.length)).toEqual(
        keys.map(() => 10),
      );
      expect(await s.recordGetWithin(keys, ns, [1, 1, 1, 1, 2], 50)).toBeUndefined();
      expect(await s.recordDelete([...keys.slice(0, 4), 'ritem:missing'], ns)).toBe(4);
      // the deleted records' bytes were given back: four more fit beside the one left, evicting nothing
      for (const k of ['ritem:e', 'ritem:f', 'ritem:g', 'ritem:h'])
        expect(await s.recordSet(k, Buffer.alloc(10, k), 60_000, bound)).toBe(true);
      expect((await readAll(s, keys, ns)).map((v) => v?.length)).toEqual([
        undefined,
        undefined,
        undefined,
        undefined,
        10,
      ]);
    }
    expect(s.health()).toMatchObject({ healthy: true, mode: 'shared' });
    await s.close();
  });
});
