// UpstreamBody is read whole (readAll) or chunk by chunk (its iterator). These pin what the proxy's
// readers rely on: order and end, the limit cut, backpressure through the source, the budget hook
// refusing a chunk, and how a destroyed or failed body answers the read waiting and later ones. The
// source is a recorder of what the body asked of it; callUpstream's tests drive it through a real
// socket (upstream_call.test.ts).
import { describe, expect, it } from 'vitest';
import { type BodySource, bodyOf, HIGH_WATER_BYTES, UpstreamBody } from './upstream_body.ts';

function recorded(): BodySource & { calls: string[]; cancelled: Error | undefined } {
  const calls: string[] = [];
  return {
    calls,
    cancelled: undefined,
    pause() {
      calls.push('pause');
    },
    resume() {
      calls.push('resume');
    },
    cancel(err) {
      calls.push('cancel');
      this.cancelled = err;
    },
  };
}

const b = (s: string) => Buffer.from(s);

describe('UpstreamBody.readAll', () => {
  it('collects every chunk, including those that came before the read', async () => {
    const body = new UpstreamBody(recorded());
    body.push(b('{"a":'));
    const read = body.readAll(100);
    body.push(b('1}'));
    body.end();
    expect((await read).toString()).toBe('{"a":1}');
  });

  it('past the limit: resolves with more than the limit and cancels the upstream', async () => {
    const src = recorded();
    const body = new UpstreamBody(src);
    const read = body.readAll(4);
    body.push(b('abc'));
    body.push(b('def'));
    body.push(b('ghi')); // after the cut: ignored
    expect((await read).toString()).toBe('abcdef');
    expect(src.calls).toContain('cancel');
  });

  it('a transport failure rejects the read with it', async () => {
    const body = new UpstreamBody(recorded());
    const read = body.readAll(100);
    body.push(b('partial'));
    body.fail(new Error('socket reset'));
    await expect(read).rejects.toThrow('socket reset');
  });

  it('the charge sees every chunk, early ones included; a refusal fails the read and cancels the upstream', async () => {
    const src = recorded();
    const body = new UpstreamBody(src);
    body.push(b('abc')); // before the read: charged when the read starts
    let seen = 0;
    const charge = (chunk: Buffer) => {
      seen += chunk.length;
      return seen > 5 ? new Error('memory budget full') : undefined;
    };
    const read = body.readAll(1000, charge);
    expect(seen).toBe(3);
    body.push(b('defg'));
    await expect(read).rejects.toThrow('memory budget full');
    expect(src.cancelled?.message).toBe('memory budget full');
  });

  it('an answer that ended before the read is still charged, and refused when over the budget', async () => {
    const body = new UpstreamBody(recorded());
    body.push(b('0123456789'));
    body.end();
    await expect(body.readAll(100, () => new Error('memory budget full'))).rejects.toThrow(
      'memory budget full',
    );
  });

  it('a second reader is refused instead of splitting the chunks', async () => {
    const body = new UpstreamBody(recorded());
    void body.readAll(10);
    await expect(body.readAll(10)).rejects.toThrow(/already being read/);
  });
});

describe('UpstreamBody iterator', () => {
  it('chunks in order, then done; chunks nobody waits for are queued without pausing below the mark', async () => {
    const src = recorded();
    const body = new UpstreamBody(src);
    const first = body.next();
    body.push(b('1'));
    expect((await first).value?.toString()).toBe('1');
    body.push(b('2'));
    body.end();
    expect((await body.next()).value?.toString()).toBe('2');
    expect((await body.next()).done).toBe(true);
    expect(src.calls).toEqual([]);
  });

  it('pauses the source once HIGH_WATER_BYTES wait, resumes it once the reader took them below the mark', async () => {
    const src = recorded();
    const body = new UpstreamBody(src);
    const half = Buffer.alloc(HIGH_WATER_BYTES / 2);
    body.push(half);
    expect(src.calls).toEqual([]);
    body.push(half);
    expect(src.calls).toEqual(['pause']);
    body.push(half); // what was already on its way is still queued, not paused twice
    expect(src.calls).toEqual(['pause']);
    await body.next();
    expect(src.calls).toEqual(['pause']);
    await body.next();
    expect(src.calls).toEqual(['pause', 'resume']);
  });

  it('a whole read takes what was queued and resumes a paused source', async () => {
    const src = recorded();
    const body = new UpstreamBody(src);
    body.push(Buffer.alloc(HIGH_WATER_BYTES, 'a'));
    expect(src.calls).toEqual(['pause']);
    const read = body.readAll(10 * HIGH_WATER_BYTES);
    expect(src.calls).toEqual(['pause', 'resume']);
    body.push(b('z'));
    body.end();
    expect((await read).length).toBe(HIGH_WATER_BYTES + 1);
  });

  it('destroyed without a reason: the waiting read and later ones reject as a premature close', async () => {
    const src = recorded();
    const body = new UpstreamBody(src);
    const waiting = body.next();
    body.destroy();
    await expect(waiting).rejects.toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' });
    await expect(body.next()).rejects.toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' });
    expect(src.calls).toEqual(['cancel']);
  });

  it('destroyed with a reason (the client left, a timeout): reads reject with that reason', async () => {
    const body = new UpstreamBody(recorded());
    const waiting = body.next();
    body.destroy(new Error('total timeout'));
    await expect(waiting).rejects.toThrow('total timeout');
  });

  it('a for-await that breaks out releases the upstream', async () => {
    const src = recorded();
    const body = new UpstreamBody(src);
    body.push(b('x'));
    for await (const chunk of body) {
      expect(chunk.toString()).toBe('x');
      break;
    }
    expect(src.calls).toContain('cancel');
  });

  it('after its end a destroy is a no-op: a finished request is not cancelled', async () => {
    const src = recorded();
    const body = new UpstreamBody(src);
    body.end();
    body.destroy();
    expect(src.calls).toEqual([]);
    expect((await body.next()).done).toBe(true);
  });
});

describe('bodyOf (in-process bodies: the mock provider, the warm-up upstream)', () => {
  it('delivers an array of chunks whole and as an iterator', async () => {
    expect((await bodyOf([b('a'), b('b')]).readAll(10)).toString()).toBe('ab');
    const seen: string[] = [];
    for await (const c of bodyOf([b('x'), b('y'), b('z')])) seen.push(c.toString());
    expect(seen).toEqual(['x', 'y', 'z']);
  });

  it('200 chunks from a generator arrive in order, the generator held back while the reader lags', async () => {
    let made = 0;
    async function* gen() {
      for (let i = 0; i < 200; i++) {
        made++;
        yield Buffer.alloc(8 * 1024, i % 256);
      }
    }
    const body = bodyOf(gen());
    await new Promise((r) => setTimeout(r, 20));
    // nobody read yet: generation stopped once HIGH_WATER_BYTES were queued
    expect(made).toBeLessThanOrEqual(HIGH_WATER_BYTES / (8 * 1024) + 1);
    let n = 0;
    for await (const c of body) {
      expect(c[0]).toBe(n % 256);
      n++;
    }
    expect(n).toBe(200);
  });

  it("the generator's error (an aborted chunk delay) fails the body", async () => {
    async function* gen() {
      yield b('first');
      throw new Error('aborted');
    }
    await expect(bodyOf(gen()).readAll(100)).rejects.toThrow('aborted');
  });

  it('destroying the body returns the generator (its finally runs)', async () => {
    let finished = false;
    async function* gen() {
      try {
        for (;;) yield b('tick');
      } finally {
        finished = true;
      }
    }
    const body = bodyOf(gen());
    await body.next();
    body.destroy();
    await new Promise((r) => setTimeout(r, 10));
    expect(finished).toBe(true);
  });
});
