// readBounded reads a whole upstream answer up to a limit. Node streams (undici's bodies) take an
// event-based path; any other async iterable the iterator path. Both must end the same way.
import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readBounded } from './read_bounded.ts';

type Body = Parameters<typeof readBounded>[0];

/** The same chunks as a Node stream and as a plain async iterable (the iterator path). */
function both(chunks: string[]): Array<[string, () => Body]> {
  return [
    [
      'stream',
      () =>
        Readable.from(
          chunks.map((c) => Buffer.from(c)),
          { objectMode: false },
        ),
    ],
    [
      'iterable',
      () => {
        const it = (async function* () {
          for (const c of chunks) yield Buffer.from(c);
        })();
        return Object.assign(it, { destroy: () => void it.return(undefined) });
      },
    ],
  ];
}

describe('readBounded', () => {
  it.each(both(['{"a":', '1}']))('%s: reads every chunk', async (_k, make) => {
    expect((await readBounded(make(), 100)).toString()).toBe('{"a":1}');
  });

  it.each(both(['abc', 'def', 'ghi']))(
    '%s: stops once past the limit, returning more than it',
    async (_k, make) => {
      const out = await readBounded(make(), 4);
      expect(out.toString()).toBe('abcdef');
    },
  );

  it.each(both([]))('%s: an empty body is an empty buffer', async (_k, make) => {
    expect((await readBounded(make(), 10)).length).toBe(0);
  });

  it('stream: an error mid-body rejects with that error', async () => {
    const s = new PassThrough();
    const p = readBounded(s, 1000);
    s.write('partial');
    s.destroy(new Error('upstream reset'));
    await expect(p).rejects.toThrow('upstream reset');
  });

  it('stream: closing without an end rejects as a premature close', async () => {
    const s = new PassThrough();
    const p = readBounded(s, 1000);
    s.write('partial');
    s.destroy();
    await expect(p).rejects.toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' });
  });

  it('stream: one that failed before reading started rejects at once', async () => {
    const s = new PassThrough();
    s.on('error', () => {}); // as undici's own listener would: the error is not unhandled
    s.destroy(new Error('gone before we read'));
    await new Promise((r) => setImmediate(r));
    await expect(readBounded(s, 1000)).rejects.toThrow('gone before we read');
  });

  it('stream: the limit destroys the stream (the upstream connection is not read further)', async () => {
    const s = new PassThrough();
    const p = readBounded(s, 3);
    s.write('abcd');
    const out = await p;
    expect(out.toString()).toBe('abcd');
    expect(s.destroyed).toBe(true);
  });

  it('stream: cutting a body whose destroy() emits an abort error (undici) raises nothing unhandled', async () => {
    // undici's BodyReadable turns destroy() before the end into an AbortError 'error' event
    const s = new PassThrough({
      destroy(err, cb) {
        cb(err ?? Object.assign(new Error('Request aborted'), { code: 'UND_ERR_ABORTED' }));
      },
    });
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown) => uncaught.push(e);
    process.on('uncaughtException', onUncaught);
    try {
      const p = readBounded(s, 3);
      s.write('abcd');
      expect((await p).toString()).toBe('abcd');
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
      expect(uncaught).toEqual([]);
      expect(s.destroyed).toBe(true);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });
});
