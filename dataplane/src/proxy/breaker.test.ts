import { afterEach, describe, expect, it, vi } from 'vitest';
import { CircuitBreaker } from './breaker.ts';

afterEach(() => vi.useRealTimers());

describe('CircuitBreaker', () => {
  it('opens after N consecutive failures, half-opens after the ejection, closes on a good probe', () => {
    vi.useFakeTimers();
    const b = new CircuitBreaker('t1', {
      consecutiveFailures: 3,
      baseEjectionMs: 1000,
      maxEjectionMs: 10_000,
    });
    b.failure();
    b.success();
    b.failure();
    b.failure();
    expect(b.state).toBe('closed');
    b.failure();
    expect(b.state).toBe('open');
    expect(b.tryAcquire()).toBe(false);
    vi.advanceTimersByTime(1000);
    expect(b.state).toBe('half-open');
    expect(b.tryAcquire()).toBe(true);
    expect(b.tryAcquire()).toBe(false); // one probe at a time
    b.success();
    expect(b.state).toBe('closed');
  });

  it('doubles the ejection after a failed probe, up to the maximum', () => {
    vi.useFakeTimers();
    const b = new CircuitBreaker('t2', { consecutiveFailures: 1, baseEjectionMs: 1000, maxEjectionMs: 3000 });
    b.failure();
    vi.advanceTimersByTime(1000);
    expect(b.tryAcquire()).toBe(true);
    b.failure(); // probe failed: 2 s
    vi.advanceTimersByTime(1999);
    expect(b.state).toBe('open');
    vi.advanceTimersByTime(1);
    expect(b.tryAcquire()).toBe(true);
    b.failure(); // 4 s capped to 3 s
    vi.advanceTimersByTime(3000);
    expect(b.state).toBe('half-open');
  });

  it('frees the probe slot when the probe ends without a verdict', () => {
    vi.useFakeTimers();
    const b = new CircuitBreaker('t3', { consecutiveFailures: 1, baseEjectionMs: 10, maxEjectionMs: 10 });
    b.failure();
    vi.advanceTimersByTime(10);
    expect(b.tryAcquire()).toBe(true);
    b.release();
    expect(b.tryAcquire()).toBe(true);
  });

  it("one tenant's failures eject the provider for that tenant only; a second tenant failing ejects it for all", () => {
    const b = new CircuitBreaker(undefined, {
      consecutiveFailures: 2,
      baseEjectionMs: 60_000,
      maxEjectionMs: 60_000,
    });
    b.failure('a');
    b.failure('a');
    expect(b.state).toBe('open');
    expect(b.available('a')).toBe(false);
    expect(b.tryAcquire('a')).toBe(false);
    // for b the circuit is half-open: one probe at a time, whose success closes it for everybody
    expect(b.available('b')).toBe(true);
    expect(b.tryAcquire('b')).toBe(true);
    expect(b.tryAcquire('c')).toBe(false);
    b.success();
    expect(b.tryAcquire('a')).toBe(true);
    // a's run again, then b's probe fails too: ejected for everybody
    b.failure('a');
    b.failure('a');
    expect(b.tryAcquire('b')).toBe(true);
    b.failure('b');
    expect(b.tryAcquire('b')).toBe(false);
    expect(b.tryAcquire('c')).toBe(false);
    expect(b.tryAcquire('a')).toBe(false);
  });

  it('a run with failures of several tenants (or of a replica serving one) ejects for all at once', () => {
    const b = new CircuitBreaker(undefined, {
      consecutiveFailures: 2,
      baseEjectionMs: 60_000,
      maxEjectionMs: 60_000,
    });
    b.failure('a');
    b.failure('b');
    expect(b.tryAcquire('c')).toBe(false);
    const single = new CircuitBreaker(undefined, {
      consecutiveFailures: 1,
      baseEjectionMs: 60_000,
      maxEjectionMs: 60_000,
    });
    single.failure();
    expect(single.tryAcquire()).toBe(false);
  });
});
