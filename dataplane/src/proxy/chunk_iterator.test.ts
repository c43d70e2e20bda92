// The event-driven chunk iterator must give the same outcomes as a Node stream's own async iterator:
// every chunk in order (also when they arrive faster than they are read), then done; the stream's
// error; a premature close; and an early stop that releases the stream.
import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { chunksOf } from './chunk_iterator.ts';

async function drain(it: AsyncIterator<Buffer>): Promise<string[]> {
  const out: string[] = [];
  for (;;) {
    const r = await it.next();
    if (r.done) return out;
    out.push(r.value.toString());
  }
}

describe('chunksOf', () => {
  it('yields every chunk in order, whether it waits for them or they arrive first', async () => {
    const body = new PassThrough();
    const it = chunksOf(body);
    const first = it.next();
    body.write('a');
    expect((await first).value?.toString()).toBe('a');
    // three chunks arrive before the reader asks: queued (and the stream paused), then read in order
    body.write('b');
    body.write('c');
    body.write('d');
    await new Promise((r) => setImmediate(r));
    expect(body.isPaused()).toBe(true);
    body.end('e');
    expect(await drain(it)).toEqual(['b', 'c', 'd', 'e']);
    expect((await it.next()).done).toBe(true);
  });

  it('matches Node’s iterator on a longer body', async () => {
    const parts = Array.from({ length: 200 }, (_, i) => `chunk-${i};`);
    const ours = await drain(
      chunksOf(
        Readable.from(
          parts.map((p) => Buffer.from(p)),
          { objectMode: false },
        ),
      ),
    );
    const node: string[] = [];
    for await (const c of Readable.from(
      parts.map((p) => Buffer.from(p)),
      { objectMode: false },
    ))
      node.push(String(c));
    expect(ours.join('')).toBe(node.join(''));
  });

  it('rejects with the stream’s error, also for a reader that was waiting', async () => {
    const body = new PassThrough();
    const it = chunksOf(body);
    const waiting = it.next();
    body.destroy(new Error('reset by peer'));
    await expect(waiting).rejects.toThrow('reset by peer');
    await expect(it.next()).rejects.toThrow('reset by peer');
  });

  it('a close without an end is a premature close', async () => {
    const body = new PassThrough();
    const it = chunksOf(body);
    body.write('a');
    expect((await it.next()).value?.toString()).toBe('a');
    body.destroy();
    await expect(it.next()).rejects.toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' });
  });

  it('return() stops reading and destroys the stream', async () => {
    const body = new PassThrough();
    const it = chunksOf(body);
    body.write('a');
    await it.next();
    await it.return?.();
    expect(body.destroyed).toBe(true);
    expect((await it.return?.())?.done).toBe(true);
  });

  it('an ended stream goes the generic way (its state is reported at once)', async () => {
    const body = Readable.from([Buffer.from('x')]);
    for await (const _ of body) {
      // consume it
    }
    expect(await drain(chunksOf(body as never))).toEqual([]);
  });
});
