// An HTTP upstream's answer body, fed straight by undici's dispatch handler (upstream_call.ts) and read
// by the proxy in one of two ways: whole, up to a limit (readAll), or chunk by chunk (the async
// iterator), never both. No Node stream in between: a Readable cost every request its stream state,
// a push, an emit and several process.nextTick callbacks per chunk and at the end, for a reader that
// is always the proxy itself (bench/alloc.ts, issue 16). What the readers rely on is kept:
//   - chunks in order, then the end; or the transport's error; or, destroyed early, the reason given
//     (or a premature-close error), for the read waiting and every later one;
//   - backpressure: once HIGH_WATER_BYTES wait for a reader, the socket read pauses; reading them
//     resumes it. Not sooner: pausing undici's parser for every early chunk (the whole answer that
//     arrives before the proxy asks for it) kept each request's objects alive through two
//     young-generation collections again (~5 KiB promoted per request, measured with --trace-gc-nvp);
//   - destroying the body before its end cancels the upstream request.

/** What the body needs from the request that feeds it. */
export interface BodySource {
  pause(): void;
  resume(): void;
  /** the reader gave up on the answer: cancel the request if it is still running */
  cancel(err: Error): void;
}

type Waiter = { resolve(r: IteratorResult<Buffer>): void; reject(err: unknown): void };
/** Sees each chunk of a whole read first; an error it returns ends the read with it (the memory budget). */
export type ChunkCharge = (chunk: Buffer) => Error | undefined;

type WholeRead = {
  parts: Buffer[];
  size: number;
  limit: number;
  charge: ChunkCharge | undefined;
  resolve(b: Buffer): void;
  reject(err: unknown): void;
};

const DONE: IteratorResult<Buffer> = Object.freeze({ done: true, value: undefined });

/** Bytes queued for the reader before the socket read is paused (a Node Readable's default, 64 KiB for undici's bodies). */
export const HIGH_WATER_BYTES = 64 * 1024;

export class UpstreamBody implements AsyncIterable<Buffer>, AsyncIterator<Buffer> {
  readonly #source: BodySource;
  readonly #queue: Buffer[] = [];
  #queuedBytes = 0;
  #paused = false;
  #ended = false;
  #failed = false;
  #error: unknown;
  #waiter: Waiter | undefined;
  #whole: WholeRead | undefined;

  constructor(source: BodySource) {
    this.#source = source;
  }

  /** Ended or failed: nothing more will come. */
  get finished(): boolean {
    return this.#ended || this.#failed;
  }

  // --- the feeding side (the dispatch handler) ---

  push(chunk: Buffer): void {
    if (this.#ended || this.#failed) return;
    const whole = this.#whole;
    if (whole) {
      const refused = whole.charge?.(chunk);
      if (refused) {
        this.destroy(refused);
        return;
      }
      whole.parts.push(chunk);
      whole.size += chunk.length;
      // past the limit: stop the upstream, the caller sees more than `limit` and knows it was cut
      if (whole.size > whole.limit) this.destroy();
      return;
    }
    const w = this.#waiter;
    if (w) {
      this.#waiter = undefined;
      w.resolve({ done: false, value: chunk });
      return;
    }
    this.#queue.push(chunk);
    this.#queuedBytes += chunk.length;
    if (!this.#paused && this.#queuedBytes >= HIGH_WATER_BYTES) {
      this.#paused = true;
      this.#source.pause();
    }
  }

  /** The reader took queued chunks: a paused socket read goes on once the queue is below the mark. */
  #drained(): void {
    if (this.#paused && this.#queuedBytes < HIGH_WATER_BYTES && !this.#ended && !this.#failed) {
      this.#paused = false;
      this.#source.resume();
    }
  }

  end(): void {
    if (this.#ended || this.#failed) return;
    this.#ended = true;
    const whole = this.#whole;
    if (whole) {
      this.#whole = undefined;
      whole.resolve(joined(whole.parts));
      return;
    }
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.resolve(DONE);
  }

  /** The transport failed (reset, timeout, abort): the waiting read and every later one reject. */
  fail(err: unknown): void {
    if (this.#ended || this.#failed) return;
    this.#failed = true;
    this.#error = err;
    this.#queue.length = 0;
    this.#queuedBytes = 0;
    const whole = this.#whole;
    this.#whole = undefined;
    const w = this.#waiter;
    this.#waiter = undefined;
    if (whole) {
      // a cut (destroy() without a reason) is not a failure of a whole read: it keeps what it read
      if (err === CUT) whole.resolve(joined(whole.parts));
      else whole.reject(err);
    }
    w?.reject(this.#readError());
  }

  // --- the reading side (the proxy) ---

  /** What a read of a failed body rejects with: its error, or a premature close for a cut. */
  #readError(): unknown {
    return this.#error === CUT ? prematureClose() : this.#error;
  }

  /**
   * The whole body; a result longer than `limit` means it was cut there (and the upstream stopped).
   * `charge` sees every chunk, those that came before the read included (the memory budget,
   * intake.ts answerCharge); an error it returns fails the read with it and stops the upstream. The
   * body keeps no reference to it once the read is over.
   */
  readAll(limit: number, charge?: ChunkCharge): Promise<Buffer> {
    try {
      const whole = this.readWhole(limit, charge);
      return whole instanceof Promise ? whole : Promise.resolve(whole);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * readAll without a promise when the body has already arrived to its end (a small answer usually
   * has by the time the headers were handled): the bytes, or a promise of them; a failure known at
   * once is thrown.
   */
  readWhole(limit: number, charge?: ChunkCharge): Buffer | Promise<Buffer> {
    if (this.#whole || this.#waiter) throw new Error('the upstream body is already being read');
    if (this.#failed) throw this.#readError();
    const parts = this.#queue.splice(0);
    const size = this.#queuedBytes;
    this.#queuedBytes = 0;
    if (charge)
      for (const p of parts) {
        const refused = charge(p);
        if (refused) {
          this.destroy(refused);
          throw refused;
        }
      }
    if (this.#ended) return joined(parts);
    return new Promise((resolve, reject) => {
      this.#whole = { parts, size, limit, charge, resolve, reject };
      if (size > limit) this.destroy();
      else this.#drained();
    });
  }

  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    return this;
  }

  next(): Promise<IteratorResult<Buffer>> {
    const chunk = this.#queue.shift();
    if (chunk !== undefined) {
      this.#queuedBytes -= chunk.length;
      this.#drained();
      return Promise.resolve({ done: false, value: chunk });
    }
    if (this.#failed) return Promise.reject(this.#readError());
    if (this.#ended) return Promise.resolve(DONE);
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  /** The reader stopped early (a for-await that broke out): release the upstream, as Node's iterator does. */
  return(): Promise<IteratorResult<Buffer>> {
    this.destroy();
    return Promise.resolve(DONE);
  }

  /**
   * The answer is not wanted any more: the upstream request is cancelled and reads fail with `err`
   * (a whole read cut without a reason resolves with what it read; an iterator read rejects with a
   * premature-close error).
   */
  destroy(err?: Error): void {
    if (this.#ended || this.#failed) return;
    this.fail(err ?? CUT);
    this.#source.cancel(err ?? cancelledByReader());
  }
}

/** The chunks as one buffer (a single chunk as it is: no copy). */
function joined(parts: Buffer[]): Buffer {
  return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
}

/** The error Node's own stream readers give for a stream that closed without ending. */
function prematureClose(): Error {
  const err = new Error('Premature close') as NodeJS.ErrnoException;
  err.code = 'ERR_STREAM_PREMATURE_CLOSE';
  return err;
}

/** The reason of a destroy() without one (a cut by the reader, not a failure). */
const CUT: Error = Object.freeze(new Error('the upstream answer was cut by its reader')) as Error;

function cancelledByReader(): Error {
  const err = new Error('the upstream answer was destroyed before its end') as NodeJS.ErrnoException;
  err.name = 'AbortError';
  err.code = 'UND_ERR_ABORTED';
  return err;
}

/**
 * A body fed from chunks made in-process (the mock provider, the warm-up upstream): pulled one at a
 * time while the reader keeps up, paused past the high-water mark, the iterator returned when the
 * reader destroys the body, its error (e.g. an aborted chunk delay) the body's failure.
 */
export function bodyOf(chunks: Iterable<Buffer> | AsyncIterable<Buffer>): UpstreamBody {
  const it =
    Symbol.asyncIterator in chunks
      ? (chunks as AsyncIterable<Buffer>)[Symbol.asyncIterator]()
      : (chunks as Iterable<Buffer>)[Symbol.iterator]();
  let paused = false;
  let pumping = false;
  let cancelled = false;
  const body = new UpstreamBody({
    pause: () => {
      paused = true;
    },
    resume: () => {
      paused = false;
      void pump();
    },
    cancel: () => {
      cancelled = true;
      void Promise.resolve(it.return?.()).catch(() => {});
    },
  });
  async function pump(): Promise<void> {
    if (pumping) return;
    pumping = true;
    try {
      while (!paused && !cancelled && !body.finished) {
        const next = await it.next();
        if (cancelled) return;
        if (next.done) return body.end();
        body.push(next.value);
      }
    } catch (err) {
      body.fail(err);
    } finally {
      pumping = false;
    }
  }
  void pump();
  return body;
}
