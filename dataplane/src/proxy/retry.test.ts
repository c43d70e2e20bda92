import { describe, expect, it } from 'vitest';
import { retrySchema } from '../config/schema.ts';
import { backoffMs, parseRetryAfter, RetryBudget } from './retry.ts';

describe('retry pacing', () => {
  const cfg = retrySchema.parse({ baseDelayMs: 100, maxDelayMs: 1000 });

  it('uses full jitter under an exponential cap', () => {
    expect(backoffMs(0, cfg, () => 0.999)).toBe(99);
    expect(backoffMs(2, cfg, () => 0.5)).toBe(200);
    expect(backoffMs(10, cfg, () => 0.999)).toBe(999);
    expect(backoffMs(3, cfg, () => 0)).toBe(0);
  });

  it('parses Retry-After in seconds and as an HTTP date', () => {
    expect(parseRetryAfter('2')).toBe(2000);
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });

  it('limits retries to a share of requests, with a floor, per window', () => {
    const b = new RetryBudget(1_000_000);
    const t = 1_000_000;
    for (let i = 0; i < 100; i++) b.recordRequest(t);
    let granted = 0;
    while (b.tryRetry(20, t)) granted++;
    expect(granted).toBe(20);
    const small = new RetryBudget(1_000_000);
    small.recordRequest(t);
    let floor = 0;
    while (small.tryRetry(20, t)) floor++;
    expect(floor).toBe(RetryBudget.MIN_RETRIES_PER_WINDOW);
    expect(small.tryRetry(20, t + RetryBudget.WINDOW_MS)).toBe(true); // a new window
  });
});
