// A short run of the soak script, so the documented 10-minute soak stays runnable: it must complete,
// count real traffic (streams included) with zero errors, and report every field.
import { describe, expect, it } from 'vitest';
import { soak } from './soak.ts';

describe('soak script (20-second smoke run)', () => {
  it('runs mixed traffic with policies and reloads, and reports errors, RSS, p99 and event-loop delay', async () => {
    const r = await soak({ minutes: 1 / 3, concurrency: 4, reloadSeconds: 5 }, () => {});
    expect(r.errorSamples).toEqual([]);
    expect(r.errors).toBe(0);
    expect(r.requests).toBeGreaterThan(100);
    expect(r.streams).toBeGreaterThan(30);
    expect(r.reloads).toBeGreaterThanOrEqual(3);
    expect(r.rssEndMiB).toBeGreaterThan(10);
    expect(r.p99ByMinuteMs.length).toBeGreaterThanOrEqual(1);
    expect(r.eventLoopDelayP99MaxMs).toBeGreaterThan(0);
  }, 60_000);
});
