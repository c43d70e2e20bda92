// One upstream HTTP request through undici's dispatch API, its answer's body an UpstreamBody
// (upstream_body.ts) fed straight from the socket.
//
// Why not pool.request(): its handler (api-request.js) keeps each request's objects (the handler,
// the undici Request, the response headers, the body stream, our serialised request body) alive
// through two young-generation collections, so ~4-5 KiB of every request was promoted to the old
// generation. That, not the work per request, scheduled the mark-compacts behind the fixed-rate p99
// (issue 16). Measured in isolation (undici alone against a node:http server at ~900 req/s with an
// 8 MiB semi-space): request() promoted ~1.4 MB per scavenge, dispatch() with a handler of our own
// ~7 KB. The behaviour the proxy relies on is the same as request()'s:
//   - the promise resolves at the response's headers (1xx answers are skipped) or rejects with the
//     transport's error (undici's UND_ERR_* codes, mapped by transport.ts);
//   - the signal's abort cancels the request before the headers, or fails the body after them, with
//     the signal's reason;
//   - the body applies backpressure, and destroying it before its end aborts the upstream request.
//
// The first-byte and idle timeouts are this handler's, not undici's (callUpstream turns undici's
// headersTimeout and bodyTimeout off for every request). undici re-creates its parser timer whenever the delay
// changes, and the first-byte and idle timeouts differ (60 s and 30 s by default): two timer objects
// per request that lived until undici's next 500 ms tick, so they were promoted to the old generation
// (taking them out: 4% less CPU per whole request, p99 at c=50 11.5 -> 9.7 ms, docs/benchmarks.md
// "Issue 16, session 13"). Here one plain timer per request, cleared when it ends, is re-armed
// only when it fires before the answer is over (a byte arriving costs a clock read, not a timer
// operation). And the first byte is the body's first byte, not the headers: a streaming upstream
// sends its headers at once and may think for a minute before the first token, which undici's
// bodyTimeout bounded by the idle timeout.
import type { Dispatcher } from 'undici';
import type { CancelSignal } from './cancellation.ts';
import type { UpstreamResponse } from './transport.ts';
import { type BodySource, UpstreamBody } from './upstream_body.ts';

type Controller = Dispatcher.DispatchController;

/** How long an upstream may take to its answer's first byte, and then between two reads. */
export interface CallDeadlines {
  firstByteMs: number;
  idleMs: number;
}

export type UpstreamTimeoutCode = 'SLUICE_UPSTREAM_FIRST_BYTE_TIMEOUT' | 'SLUICE_UPSTREAM_IDLE_TIMEOUT';

/** A missed first-byte or idle deadline; transport.ts turns it into SLUICE_ERR_UPSTREAM_TIMEOUT. */
export class UpstreamTimeoutError extends Error {
  readonly code: UpstreamTimeoutCode;
  constructor(code: UpstreamTimeoutCode, ms: number) {
    super(
      code === 'SLUICE_UPSTREAM_FIRST_BYTE_TIMEOUT'
        ? `no first byte within ${ms} ms`
        : `no data for more than ${ms} ms`,
    );
    this.name = 'UpstreamTimeoutError';
    this.code = code;
  }
}

function onDeadline(call: UpstreamCall): void {
  call.checkDeadline(false);
}

function onDeadlineConfirm(call: UpstreamCall): void {
  call.checkDeadline(true);
}

class UpstreamCall implements Dispatcher.DispatchHandler, BodySource {
  #controller: Controller | undefined;
  readonly #signal: CancelSignal;
  readonly #resolve: (r: UpstreamResponse) => void;
  readonly #reject: (err: unknown) => void;
  #body: UpstreamBody | undefined;
  /** the upstream request is over (answered to its end, failed or aborted): nothing left to cancel */
  #over = false;
  readonly #deadlines: CallDeadlines;
  #timer: NodeJS.Timeout | undefined;
  #sentAt = 0;
  /** when the body last moved (a chunk, or its reader resuming a paused read); 0 before the first byte */
  #lastByteAt = 0;
  /** the reader paused the socket read (backpressure): no byte can come, so the upstream is not idle */
  #paused = false;

  constructor(
    signal: CancelSignal,
    deadlines: CallDeadlines,
    resolve: (r: UpstreamResponse) => void,
    reject: (err: unknown) => void,
  ) {
    this.#signal = signal;
    this.#deadlines = deadlines;
    this.#resolve = resolve;
    this.#reject = reject;
    signal.addEventListener('abort', this.#onAbort, { once: true });
  }

  readonly #onAbort = (): void => {
    const reason = this.#signal.reason as Error;
    if (this.#body) this.#body.destroy(reason);
    else this.#controller?.abort(reason);
  };

  /**
   * The request is over: drop what this handler points to. Something in undici keeps a finished
   * request's handler reachable for a while (its objects were promoted whenever our body pointed
   * back into the exchange); a finished handler then holds nothing of the exchange.
   */
  #finish(): void {
    this.#over = true;
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    this.#signal.removeEventListener('abort', this.#onAbort);
    this.#body = undefined;
    this.#controller = undefined;
  }

  // --- BodySource: what the body asks of the request feeding it ---

  pause(): void {
    this.#paused = true;
    this.#controller?.pause();
  }

  resume(): void {
    // the idle clock starts again from here: the upstream could not send while the read was paused
    this.#paused = false;
    this.#lastByteAt = performance.now();
    this.#controller?.resume();
  }

  cancel(err: Error): void {
    if (this.#over) return;
    const controller = this.#controller;
    this.#finish();
    controller?.abort(err);
  }

  // --- the deadlines ---

  /**
   * The timer fired: fail the call if its deadline has passed, else wait again for what is left. The
   * wait is never longer than the idle timeout, so a byte arriving meanwhile (which only moves the
   * deadline later) can never make the next check late.
   *
   * A deadline found passed is confirmed once more after the event loop's next I/O phase: timers run
   * before I/O, so after the loop was blocked (a long GC, a CPU-starved pod) the bytes that arrived
   * meanwhile are still unread when the timer fires, and the upstream would be blamed for the
   * gateway's own stall.
   */
  checkDeadline(confirmed: boolean): void {
    this.#timer = undefined;
    if (this.#over) return;
    const now = performance.now();
    const { firstByteMs, idleMs } = this.#deadlines;
    const firstByte = this.#lastByteAt === 0;
    // while the reader holds the read back nothing can come: no deadline runs, the check comes again
    const due = firstByte
      ? this.#sentAt + firstByteMs
      : this.#paused
        ? now + idleMs
        : this.#lastByteAt + idleMs;
    if (now < due) {
      this.#timer = setTimeout(onDeadline, Math.ceil(Math.min(due - now, idleMs)), this);
    } else if (!confirmed) {
      setImmediate(onDeadlineConfirm, this);
    } else if (firstByte) {
      this.#expire(new UpstreamTimeoutError('SLUICE_UPSTREAM_FIRST_BYTE_TIMEOUT', firstByteMs));
    } else {
      this.#expire(new UpstreamTimeoutError('SLUICE_UPSTREAM_IDLE_TIMEOUT', idleMs));
    }
  }

  #expire(err: UpstreamTimeoutError): void {
    if (this.#body) this.#body.destroy(err);
    else this.#controller?.abort(err);
  }

  // --- undici's dispatch handler ---

  onRequestStart(controller: Controller): void {
    this.#controller = controller;
    if (this.#signal.aborted) {
      controller.abort(this.#signal.reason as Error);
      return;
    }
    // as undici's own timers: from the moment the request has a connection
    this.#sentAt = performance.now();
    const { firstByteMs, idleMs } = this.#deadlines;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = setTimeout(onDeadline, Math.min(firstByteMs, idleMs), this);
  }

  onResponseStart(
    _controller: Controller,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    if (statusCode < 200) return;
    const body = new UpstreamBody(this);
    this.#body = body;
    this.#resolve({ status: statusCode, headers, body });
  }

  onResponseData(_controller: Controller, chunk: Buffer): void {
    this.#lastByteAt = performance.now();
    this.#body?.push(chunk);
  }

  onResponseEnd(): void {
    const body = this.#body;
    this.#finish();
    body?.end();
  }

  onResponseError(_controller: Controller, err: Error): void {
    const body = this.#body;
    this.#finish();
    if (body) body.fail(err);
    else this.#reject(err);
  }
}

/**
 * Sends one request on `dispatcher`; resolves at the response headers (see the top of the file). The
 * deadlines fail the call with an UpstreamTimeoutError: before the headers as its rejection, after
 * them as the body's error.
 */
export function callUpstream(
  dispatcher: Dispatcher,
  opts: Dispatcher.DispatchOptions,
  signal: CancelSignal,
  deadlines: CallDeadlines,
): Promise<UpstreamResponse> {
  if (signal.aborted) return Promise.reject(signal.reason);
  // undici's own parser timers off: the handler keeps the deadlines (opts is the caller's fresh object)
  opts.headersTimeout = 0;
  opts.bodyTimeout = 0;
  return new Promise((resolve, reject) => {
    dispatcher.dispatch(opts, new UpstreamCall(signal, deadlines, resolve, reject));
  });
}
