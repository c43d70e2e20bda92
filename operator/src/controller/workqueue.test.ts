import { describe, expect, it } from 'vitest';
import { runWorkers, WorkQueue } from './workqueue.ts';

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

describe('WorkQueue', () => {
  it('deduplicates waiting keys and keeps order', async () => {
    const q = new WorkQueue();
    for (const k of ['a', 'b', 'a', 'c', 'b']) q.add(k);
    expect(q.length).toBe(3);
    expect([await q.get(), await q.get(), await q.get()]).toEqual(['a', 'b', 'c']);
  });

  it('never hands a key in processing to another worker; a re-add runs after done', async () => {
    const q = new WorkQueue();
    q.add('k');
    const first = await q.get();
    q.add('k');
    expect(q.length).toBe(0);
    q.done(first as string);
    expect(q.length).toBe(1);
    expect(await q.get()).toBe('k');
  });

  it('coalesces delayed adds into the earliest and fires once', async () => {
    const q = new WorkQueue();
    q.addAfter('k', 30);
    q.addAfter('k', 60);
    q.addAfter('k', 40);
    expect(q.length).toBe(0);
    await tick(45);
    expect(q.length).toBe(1);
    await tick(40);
    expect(q.length).toBe(1);
  });

  it('backs off exponentially per key and forgets on success', () => {
    const q = new WorkQueue({ baseDelayMs: 10, maxDelayMs: 50 });
    expect([
      q.addRateLimited('k'),
      q.addRateLimited('k'),
      q.addRateLimited('k'),
      q.addRateLimited('k'),
    ]).toEqual([10, 20, 40, 50]);
    expect(q.addRateLimited('other')).toBe(10);
    q.forget('k');
    expect(q.failures('k')).toBe(0);
    q.shutDown();
  });

  it('workers retry a failing key with backoff while other keys proceed', async () => {
    const q = new WorkQueue({ baseDelayMs: 5 });
    const seen: string[] = [];
    let failuresLeft = 2;
    const errors: number[] = [];
    const done = runWorkers(
      q,
      2,
      async (key) => {
        seen.push(key);
        if (key === 'bad' && failuresLeft-- > 0) throw new Error('boom');
      },
      (_k, _e, delay) => errors.push(delay),
    );
    q.add('bad');
    q.add('good');
    for (let i = 0; i < 50 && seen.filter((k) => k === 'bad').length < 3; i++) await tick(5);
    q.shutDown();
    await done;
    expect(seen.filter((k) => k === 'good')).toEqual(['good']);
    expect(seen.filter((k) => k === 'bad')).toHaveLength(3);
    expect(errors).toEqual([5, 10]);
    expect(q.failures('bad')).toBe(0);
  });
});
