// The behaviour every Store must have, as a vitest suite run against each implementation
// (memory.test.ts, redis.test.ts): the same numbers from the in-memory store and from the Lua scripts.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { AdmitBatch, AdmitOk, Store } from './types.ts';

const none: AdmitBatch = { rates: [], concurrency: [], windows: [], wantOutput: 0 };

function window(key: string, limit: number, fixed: number, perOutput: number): AdmitBatch['windows'][number] {
  return { key, limit, fixed, perOutput, ttlMs: 60_000, resetMs: 42_000 };
}

export function storeContract(name: string, getStore: () => Store): void {
  // Every case uses fresh keys so cases never see each other's counters.
  const k = (s: string) => `{t-${randomUUID()}}:${s}`;

  describe(`${name} store contract`, () => {
    it('GCRA admits the burst, then denies with the time until the next slot', async () => {
      const store = getStore();
      const key = k('rate');
      const op = { key, emissionMs: 12_000, burst: 5 };
      const remaining: number[] = [];
      const t0 = Date.now();
      for (let i = 0; i < 5; i++) {
        const { result } = await store.admit({ ...none, rates: [op] });
        expect(result.ok).toBe(true);
        remaining.push((result as AdmitOk).rates[0]?.remaining ?? -1);
      }
      expect(remaining).toEqual([4, 3, 2, 1, 0]);
      const { result } = await store.admit({ ...none, rates: [op] });
      expect(result).toMatchObject({ ok: false, kind: 'rate', index: 0 });
      if (!result.ok) {
        // The first slot comes back 12 s after the first admission (less whatever time has passed).
        expect(result.retryAfterMs).toBeGreaterThanOrEqual(12_000 - (Date.now() - t0) - 2);
        expect(result.retryAfterMs).toBeLessThanOrEqual(12_000);
      }
    });

    it('reserves input plus as much output as every window still allows', async () => {
      const store = getStore();
      const key = k('tokens');
      const first = await store.admit({ ...none, windows: [window(key, 100, 30, 1)], wantOutput: 50 });
      expect(first.result).toMatchObject({ ok: true, grant: 50, windowsUsed: [80] });
      // The input alone no longer fits: denied, with the window's reset as Retry-After.
      const tooBig = await store.admit({ ...none, windows: [window(key, 100, 30, 1)], wantOutput: 50 });
      expect(tooBig.result).toEqual({ ok: false, kind: 'window', index: 0, retryAfterMs: 42_000, used: 80 });
      // The input fits but only 10 output tokens are left: granted 10, not 50.
      const partial = await store.admit({ ...none, windows: [window(key, 100, 10, 1)], wantOutput: 50 });
      expect(partial.result).toMatchObject({ ok: true, grant: 10, windowsUsed: [100] });
      // Nothing left for output: denied even though the (empty) input fits.
      const empty = await store.admit({ ...none, windows: [window(key, 100, 0, 1)], wantOutput: 5 });
      expect(empty.result).toMatchObject({ ok: false, kind: 'window', index: 0, used: 100 });
    });

    it('takes the smallest grant across windows and charges input-only windows only for input', async () => {
      const store = getStore();
      const total = k('total');
      const input = k('input');
      const res = await store.admit({
        ...none,
        windows: [window(input, 1_000, 40, 0), window(total, 100, 40, 1)],
        wantOutput: 500,
      });
      expect(res.result).toMatchObject({ ok: true, grant: 60, windowsUsed: [40, 100] });
    });

    it('settles real usage: refunds unused reservations and never recreates an expired window', async () => {
      const store = getStore();
      const key = k('settle');
      const { result, placement } = await store.admit({
        ...none,
        windows: [window(key, 100, 20, 1)],
        wantOutput: 60,
      });
      expect(result).toMatchObject({ ok: true, windowsUsed: [80] });
      await store.settle({ windows: [{ key, delta: -50 }], concurrency: [] }, placement);
      const next = await store.admit({ ...none, windows: [window(key, 100, 0, 1)], wantOutput: 1_000 });
      expect(next.result).toMatchObject({ ok: true, grant: 70, windowsUsed: [100] });
      const gone = k('never-admitted');
      await store.settle({ windows: [{ key: gone, delta: 5 }], concurrency: [] }, placement);
      const fresh = await store.admit({ ...none, windows: [window(gone, 10, 0, 1)], wantOutput: 100 });
      expect(fresh.result).toMatchObject({ ok: true, grant: 10 });
    });

    it('applies a settlement that names its reservation once, however often it is delivered', async () => {
      const store = getStore();
      const key = k('once');
      const cc = k('once-cc');
      const reservation = { key: k('rsv'), ttlMs: 60_000 };
      const { result, placement } = await store.admit({
        ...none,
        windows: [window(key, 100, 20, 1)],
        concurrency: [{ key: cc, max: 1, id: 'r1', leaseMs: 60_000 }],
        wantOutput: 30,
        reservation,
      });
      expect(result).toMatchObject({ ok: true, windowsUsed: [50] });
      const settle = {
        windows: [{ key, delta: -25 }],
        concurrency: [{ key: cc, id: 'r1' }],
        reservation: reservation.key,
      };
      // a replay after a lost reply, and a duplicate: the second and third change nothing
      for (let i = 0; i < 3; i++) await store.settle(settle, placement);
      const next = await store.admit({ ...none, windows: [window(key, 100, 0, 1)], wantOutput: 1_000 });
      expect(next.result).toMatchObject({ ok: true, grant: 75 });
    });

    it('is all-or-nothing: a request denied by a window does not spend its request slot', async () => {
      const store = getStore();
      const rate = { key: k('rate'), emissionMs: 60_000, burst: 1 };
      const win = window(k('w'), 10, 50, 0);
      const denied = await store.admit({ ...none, rates: [rate], windows: [win] });
      expect(denied.result).toMatchObject({ ok: false, kind: 'window' });
      const ok = await store.admit({ ...none, rates: [rate] });
      expect(ok.result).toMatchObject({ ok: true, rates: [{ remaining: 0 }] });
    });

    it('holds concurrency slots until settled, and frees leases of holders that died', async () => {
      const store = getStore();
      const key = k('conc');
      const slot = (id: string, leaseMs = 60_000) => ({ key, max: 2, id, leaseMs });
      const a = await store.admit({ ...none, concurrency: [slot('a')] });
      const b = await store.admit({ ...none, concurrency: [slot('b', 1_500)] });
      expect(a.result.ok && b.result.ok).toBe(true);
      const c = await store.admit({ ...none, concurrency: [slot('c')] });
      expect(c.result).toMatchObject({ ok: false, kind: 'concurrency', index: 0 });
      await store.settle({ windows: [], concurrency: [{ key, id: 'a' }] }, a.placement);
      expect((await store.admit({ ...none, concurrency: [slot('c')] })).result.ok).toBe(true);
      // 'b' never settles (its replica died); its lease runs out and the slot comes back.
      expect((await store.admit({ ...none, concurrency: [slot('d')] })).result.ok).toBe(false);
      await sleep(1_700);
      expect((await store.admit({ ...none, concurrency: [slot('d')] })).result.ok).toBe(true);
    });

    it('handles fractional cost units (micro-USD) exactly enough for budgets', async () => {
      const store = getStore();
      const res = await store.admit({
        ...none,
        windows: [window(k('usd'), 1_000, 12.5, 0.6)],
        wantOutput: 10_000,
      });
      expect(res.result).toMatchObject({ ok: true, grant: 1645 });
      if (res.result.ok) expect(res.result.windowsUsed[0]).toBeCloseTo(999.5, 6);
    });

    it('never lets concurrent admissions overshoot a window', async () => {
      const store = getStore();
      const key = k('race');
      const results = await Promise.all(
        Array.from({ length: 120 }, () =>
          store.admit({ ...none, windows: [window(key, 1_000, 7, 1)], wantOutput: 5 }),
        ),
      );
      let charged = 0;
      for (const { result } of results) if (result.ok) charged += 7 + result.grant;
      expect(charged).toBeLessThanOrEqual(1_000);
      // 83 full requests (996) fit; one more would need 7 + 1 > 4 remaining.
      expect(results.filter((r) => r.result.ok).length).toBe(83);
    });
  });
}
