// Reading a streamed upstream body chunk by chunk. A Node stream's own async iterator is an async
// generator over 'readable' events: every chunk costs its generator step, promises and closures, the
// largest allocation left on the stream path (~21 KiB of ~156 KiB per 20-chunk stream, bench/alloc.ts).
// This iterator follows the stream's 'data' events instead: a chunk that arrives while the pump waits
// resolves its one promise; one that arrives early is queued and the stream paused (backpressure
// reaches the upstream as before). Same outcomes as Node's iterator: the chunks in order, then done;
// the stream's error; or a premature-close error when it closed without ending.
import { Readable } from 'node:stream';
import { ignoreError, prematureClose } from './body_errors.ts';
import type { UpstreamResponse } from './transport.ts';
import { UpstreamBody } from './upstream_body.ts';

type Waiter = { resolve(r: IteratorResult<Buffer>): void; reject(err: unknown): void };

const DONE: IteratorResult<Buffer> = Object.freeze({ done: true, value: undefined });

/** The chunks of an upstream body (a Node stream through its events; anything else its own way). */
export function chunksOf(body: UpstreamResponse['body']): AsyncIterator<Buffer> {
  // an HTTP upstream's body is its own iterator (upstream_body.ts)
  if (body instanceof UpstreamBody) return body;
  // a stream that already ended or failed goes the generic way, which reports its state at once
  if (body instanceof Readable && !body.destroyed && !body.readableEnded) return new ChunkIterator(body);
  return body[Symbol.asyncIterator]();
}

class ChunkIterator implements AsyncIterator<Buffer> {
  readonly #body: Readable;
  readonly #queue: Buffer[] = [];
  #ended = false;
  #failed = false;
  #error: unknown;
  #waiter: Waiter | undefined;

  constructor(body: Readable) {
    this.#body = body;
    body.on('data', this.#onData);
    body.on('end', this.#onEnd);
    body.on('error', this.#onError);
    body.on('close', this.#onClose);
  }

  readonly #onData = (chunk: Buffer): void => {
    const w = this.#waiter;
    if (w) {
      this.#waiter = undefined;
      w.resolve({ done: false, value: chunk });
      return;
    }
    this.#queue.push(chunk);
    this.#body.pause();
  };

  readonly #onEnd = (): void => {
    this.#ended = true;
    this.#detach();
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.resolve(DONE);
  };

  readonly #onError = (err: unknown): void => this.#fail(err);

  readonly #onClose = (): void => {
    if (!this.#ended) this.#fail(prematureClose());
  };

  #fail(err: unknown): void {
    if (this.#ended || this.#failed) return;
    this.#failed = true;
    this.#error = err;
    this.#detach();
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.reject(err);
  }

  #detach(): void {
    const b = this.#body;
    b.off('data', this.#onData);
    b.off('end', this.#onEnd);
    b.off('error', this.#onError);
    b.off('close', this.#onClose);
    // an error after we stopped listening must not become an uncaught exception
    if (!this.#ended) b.on('error', ignoreError);
  }

  next(): Promise<IteratorResult<Buffer>> {
    const chunk = this.#queue.shift();
    if (chunk !== undefined) {
      if (this.#queue.length === 0 && !this.#ended && !this.#failed) this.#body.resume();
      return Promise.resolve({ done: false, value: chunk });
    }
    if (this.#failed) return Promise.reject(this.#error);
    if (this.#ended) return Promise.resolve(DONE);
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  /** The consumer stopped early: stop reading and release the stream, as Node's iterator does. */
  return(): Promise<IteratorResult<Buffer>> {
    if (!this.#ended && !this.#failed) {
      this.#failed = true;
      this.#error = prematureClose();
      this.#detach();
      this.#body.destroy();
    }
    return Promise.resolve(DONE);
  }
}
