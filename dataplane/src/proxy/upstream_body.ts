// An HTTP upstream's answer body, fed straight by undici's dispatch handler (upstream_call.ts) and read
// by the proxy in one of two ways: whole, up to a limit (readAll), or chunk by chunk (the async
// iterator), never both. No Node stream in between: a Readable cost every request its stream state,
// a push, an emit and several process.nextTick callbacks per chunk and at the end, for a reader that
// is always the proxy itself (bench/alloc.ts, issue 16). What the readers rely on is kept:
//   - chunks in order, then the end; or the transport's error; or, destroyed early, the reason given
//     (or a premature-close error), for the read waiting and every later one;
//   - backpressure: a chunk the iterator's reader has not asked for yet pauses the socket read, the
//     next read resumes it;
//   - destroying the body before its end cancels the upstream request.
import { prematureClose } from './body_errors.ts';

/** What the body needs from the request that feeds it. */
export interface BodySource {
  pause(): void;
  resume(): void;
  /** the reader gave up on the answer: cancel the request if it is still running */
  cancel(err: Error): void;
}

type Waiter = { resolve(r: IteratorResult<Buffer>): void; reject(err: unknown): void };
type WholeRead = {
  parts: Buffer[];
  size: number;
  limit: number;
  resolve(b: Buffer): void;
  reject(err: unknown): void;
};

const DONE: IteratorResult<Buffer> = Object.freeze({ done: true, value: undefined });

export class UpstreamBody implements AsyncIterable<Buffer>, AsyncIterator<Buffer> {
  readonly #source: BodySource;
  readonly #queue: Buffer[] = [];
  #ended = false;
  #failed = false;
  #error: unknown;
  #waiter: Waiter | undefined;
  #whole: WholeRead | undefined;
  /**
   * Sees each chunk before its reader (the memory budget's charge, intake.ts chargeAnswer); may
   * destroy the body, which then fails with the reason it was given.
   */
  onChunk: ((chunk: Buffer) => void) | undefined;

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
    this.onChunk?.(chunk);
    if (this.#failed) return; // onChunk refused it
    const whole = this.#whole;
    if (whole) {
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
    this.#source.pause();
  }

  end(): void {
    if (this.#ended || this.#failed) return;
    this.#ended = true;
    const whole = this.#whole;
    if (whole) {
      this.#whole = undefined;
      whole.resolve(whole.parts.length === 1 ? (whole.parts[0] as Buffer) : Buffer.concat(whole.parts));
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
    const whole = this.#whole;
    this.#whole = undefined;
    const w = this.#waiter;
    this.#waiter = undefined;
    if (whole) {
      // a cut (destroy() without a reason) is not a failure of a whole read: it keeps what it read
      if (err === CUT) whole.resolve(Buffer.concat(whole.parts));
      else whole.reject(err);
    }
    w?.reject(err === CUT ? prematureClose() : err);
  }

  // --- the reading side (the proxy) ---

  /** The whole body; a result longer than `limit` means it was cut there (and the upstream stopped). */
  readAll(limit: number): Promise<Buffer> {
    if (this.#whole || this.#waiter)
      return Promise.reject(new Error('the upstream body is already being read'));
    if (this.#failed) return Promise.reject(this.#error === CUT ? prematureClose() : this.#error);
    const parts = this.#queue.splice(0);
    let size = 0;
    for (const p of parts) size += p.length;
    if (this.#ended) return Promise.resolve(Buffer.concat(parts));
    return new Promise((resolve, reject) => {
      this.#whole = { parts, size, limit, resolve, reject };
      if (size > limit) this.destroy();
      else this.#source.resume();
    });
  }

  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    return this;
  }

  next(): Promise<IteratorResult<Buffer>> {
    const chunk = this.#queue.shift();
    if (chunk !== undefined) {
      if (this.#queue.length === 0 && !this.#ended && !this.#failed) this.#source.resume();
      return Promise.resolve({ done: false, value: chunk });
    }
    if (this.#failed) return Promise.reject(this.#error === CUT ? prematureClose() : this.#error);
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

/** The reason of a destroy() without one (a cut by the reader, not a failure). */
const CUT: Error = Object.freeze(new Error('the upstream answer was cut by its reader')) as Error;

function cancelledByReader(): Error {
  const err = new Error('the upstream answer was destroyed before its end') as NodeJS.ErrnoException;
  err.name = 'AbortError';
  err.code = 'UND_ERR_ABORTED';
  return err;
}
