import { EventEmitter, once } from 'node:events';
import type { ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Cancellation, sleepSignal } from './cancellation.ts';
import { writeToClient } from './stream.ts';

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('Cancellation', () => {
  it('runs each listener once, in order, with AbortController default reason', () => {
    const c = new Cancellation();
    const calls: string[] = [];
    c.addEventListener('abort', () => calls.push('a'));
    c.addEventListener('abort', () => calls.push('b'));
    c.addEventListener('abort', () => calls.push('c'));
    expect(c.aborted).toBe(false);
    c.abort();
    c.abort(new Error('second'));
    expect(calls).toEqual(['a', 'b', 'c']);
    expect(c.aborted).toBe(true);
    expect(c.reason).toBeInstanceOf(DOMException);
    expect((c.reason as DOMException).name).toBe('AbortError');
    expect(c.listenerCount).toBe(0);
  });

  it('keeps the reason it was given, and is its own signal', () => {
    const c = new Cancellation();
    const why = new Error('client closed the connection');
    c.abort(why);
    expect(c.signal).toBe(c);
    expect(c.signal.reason).toBe(why);
  });

  it('removes a single listener and one of several; a listener added after the abort never runs', () => {
    const c = new Cancellation();
    const a = vi.fn();
    const b = vi.fn();
    const d = vi.fn();
    c.addEventListener('abort', a);
    c.removeEventListener('abort', a);
    expect(c.listenerCount).toBe(0);
    c.addEventListener('abort', a);
    c.addEventListener('abort', b);
    c.addEventListener('abort', d);
    c.removeEventListener('abort', b);
    c.removeEventListener('abort', vi.fn()); // not there: nothing happens
    expect(c.listenerCount).toBe(2);
    c.abort();
    const late = vi.fn();
    c.addEventListener('abort', late);
    expect(a).toHaveBeenCalledTimes(1);
    expect(b).not.toHaveBeenCalled();
    expect(d).toHaveBeenCalledTimes(1);
    expect(late).not.toHaveBeenCalled();
    expect(c.listenerCount).toBe(0);
  });

  it('a throwing listener does not stop the others; its error is rethrown asynchronously', () => {
    const queued: (() => void)[] = [];
    vi.stubGlobal('queueMicrotask', (fn: () => void) => queued.push(fn));
    const c = new Cancellation();
    const after = vi.fn();
    c.addEventListener('abort', () => {
      throw new Error('listener broke');
    });
    c.addEventListener('abort', after);
    c.abort();
    expect(after).toHaveBeenCalledTimes(1);
    expect(queued).toHaveLength(1);
    expect(() => queued[0]?.()).toThrow('listener broke');
  });

  it("ends Node's timers/promises sleep and events.once at the abort, as an AbortSignal would", async () => {
    const c = new Cancellation();
    const slept = sleep(60_000, undefined, { signal: sleepSignal(c) });
    const heard = once(c as unknown as EventTarget, 'abort');
    c.abort(new Error('gone'));
    await expect(slept).rejects.toMatchObject({ name: 'AbortError' });
    await expect(heard).resolves.toBeDefined();
    // a sleep started after the abort rejects at once
    await expect(sleep(60_000, undefined, { signal: sleepSignal(c) })).rejects.toMatchObject({
      name: 'AbortError',
    });
  });
});

describe('writeToClient (backpressure)', () => {
  function slowClient(): ServerResponse & EventEmitter {
    const res = new EventEmitter() as ServerResponse & EventEmitter;
    (res as unknown as { write: () => boolean }).write = () => false;
    return res;
  }

  it('waits for drain, then leaves no listener on the client signal or the response', async () => {
    const res = slowClient();
    const gone = new Cancellation();
    for (let i = 0; i < 5; i++) {
      const wait = writeToClient(res, 'data: x\n\n', gone);
      expect(wait).toBeInstanceOf(Promise);
      expect(gone.listenerCount).toBe(1);
      res.emit('drain');
      await wait;
      expect(gone.listenerCount).toBe(0);
      expect(res.listenerCount('drain')).toBe(0);
    }
  });

  it('ends the wait when the client leaves, and does not wait at all once it has', async () => {
    const res = slowClient();
    const gone = new Cancellation();
    const wait = writeToClient(res, 'data: x\n\n', gone);
    gone.abort();
    await wait;
    expect(res.listenerCount('drain')).toBe(0);
    await expect(writeToClient(res, 'data: y\n\n', gone)).resolves.toBeUndefined();
    expect(res.listenerCount('drain')).toBe(0);
  });

  it('costs no promise when the socket takes the write', () => {
    const res = new EventEmitter() as ServerResponse & EventEmitter;
    (res as unknown as { write: () => boolean }).write = () => true;
    expect(writeToClient(res, 'data: x\n\n', new Cancellation())).toBeUndefined();
    expect(writeToClient(res, '', new Cancellation())).toBeUndefined();
  });
});
