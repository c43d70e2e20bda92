// A provider's concurrency queue is shared by every tenant routed to the provider: a full queue must
// make room for a tenant holding fewer places, and freed turns go to the tenants in turn.
import { describe, expect, it } from 'vitest';
import { Cancellation } from './cancellation.ts';
import { ConcurrencyLimiter } from './concurrency.ts';

/** Queue a request and record the order turns are given in, and refusals. */
function waiter(limiter: ConcurrencyLimiter, tenant: string, log: string[], signal = new Cancellation()) {
  return limiter.acquire(signal, 'p', tenant).then(
    () => {
      log.push(tenant);
    },
    (err: { code?: unknown }) => {
      log.push(`${tenant}:${typeof err.code === 'string' ? err.code : 'aborted'}`);
    },
  );
}

describe('ConcurrencyLimiter between tenants', () => {
  it('gives freed turns to the tenants in turn, not in arrival order', async () => {
    const limiter = new ConcurrencyLimiter(1, 10);
    const log: string[] = [];
    await limiter.acquire(new Cancellation(), 'p', 'a');
    const all = [
      waiter(limiter, 'a', log),
      waiter(limiter, 'a', log),
      waiter(limiter, 'a', log),
      waiter(limiter, 'b', log),
      waiter(limiter, 'c', log),
    ];
    // each release gives back the turn of the one served before
    const holders = ['a', 'a', 'b', 'c', 'a'];
    for (const holder of holders) limiter.release(holder);
    await Promise.all(all);
    expect(log).toEqual(['a', 'b', 'c', 'a', 'a']);
    expect(limiter.queued).toBe(0);
  });

  it("a full queue makes room for a tenant holding fewer places, from the largest holder's newest", async () => {
    const limiter = new ConcurrencyLimiter(1, 3);
    const log: string[] = [];
    await limiter.acquire(new Cancellation(), 'p', 'a');
    const a = [waiter(limiter, 'a', log), waiter(limiter, 'a', log), waiter(limiter, 'a', log)];
    // a holds the most: its fourth waiter is refused at once
    await waiter(limiter, 'a', log);
    expect(log).toEqual(['a:SLUICE_ERR_QUEUE_FULL']);
    // b holds none: a's newest waiter gives its place up
    const b = waiter(limiter, 'b', log);
    await a[2];
    expect(log).toEqual(['a:SLUICE_ERR_QUEUE_FULL', 'a:SLUICE_ERR_QUEUE_FULL']);
    expect(limiter.queued).toBe(3);
    // a 2, b 1: b's second waiter would only swap the two, so it is refused
    await waiter(limiter, 'b', log);
    expect(log.slice(2)).toEqual(['b:SLUICE_ERR_QUEUE_FULL']);
    // c holds none: a (the largest) gives its newest place up again; then 1, 1, 1 and nobody gives way
    const c = waiter(limiter, 'c', log);
    await a[1];
    await waiter(limiter, 'c', log);
    expect(log.slice(3)).toEqual(['a:SLUICE_ERR_QUEUE_FULL', 'c:SLUICE_ERR_QUEUE_FULL']);
    limiter.release('a');
    await a[0];
    limiter.release('a');
    await b;
    limiter.release('b');
    await Promise.all([a[0], b, c]);
    expect(log.slice(5)).toEqual(['a', 'b', 'c']);
    expect(limiter.queued).toBe(0);
  });

  it('no tenant holds more than tenantMax turns: the rest stay free for the others', async () => {
    const limiter = new ConcurrencyLimiter(2, 10, 1);
    const log: string[] = [];
    expect(limiter.tryAcquire('a')).toBe(true);
    // a second turn is free, but a holds its share: it waits for its own turn to come back
    const a2 = waiter(limiter, 'a', log);
    expect(limiter.queued).toBe(1);
    expect(limiter.tryAcquire('b')).toBe(true);
    expect(limiter.heldBy('b')).toBe(1);
    limiter.release('b');
    expect(log).toEqual([]);
    limiter.release('a');
    await a2;
    expect(log).toEqual(['a']);
    expect(limiter.heldBy('a')).toBe(1);
    // the tenant '' (one tenant per replica) is never capped
    expect(limiter.tryAcquire('')).toBe(true);
    expect(limiter.active).toBe(2);
  });

  it('a waiter whose client goes away leaves its tenant queue at once', async () => {
    const limiter = new ConcurrencyLimiter(1, 2);
    const log: string[] = [];
    await limiter.acquire(new Cancellation(), 'p', 'a');
    const gone = new Cancellation();
    const left = waiter(limiter, 'a', log, gone);
    const stays = waiter(limiter, 'b', log);
    gone.abort();
    await left;
    expect(limiter.queued).toBe(1);
    limiter.release('a');
    await stays;
    expect(log).toEqual(['a:aborted', 'b']);
    limiter.release('b');
    expect(limiter.active).toBe(0);
  });
});
