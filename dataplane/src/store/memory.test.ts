import { afterAll, describe, expect, it } from 'vitest';
import { MemoryStore } from './memory.ts';
import { storeContract } from './store_contract.ts';

const store = new MemoryStore();
afterAll(() => store.close());
storeContract('memory', () => store);

describe('memory store housekeeping', () => {
  it('drops expired counters on sweep so idle keys do not accumulate', async () => {
    let now = 1_000_000;
    const s = new MemoryStore(() => now);
    await s.admit({
      rates: [{ key: 'r', emissionMs: 100, burst: 1 }],
      concurrency: [{ key: 'c', max: 1, id: 'x', leaseMs: 500 }],
      windows: [{ key: 'w', limit: 10, fixed: 1, perOutput: 0, ttlMs: 1_000, resetMs: 1_000 }],
      wantOutput: 0,
    });
    expect(s.size).toBe(3);
    now += 2_000;
    s.sweep();
    expect(s.size).toBe(0);
    await s.close();
  });
});
