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
import type { Dispatcher } from 'undici';
import type { CancelSignal } from './cancellation.ts';
import type { UpstreamResponse } from './transport.ts';
import { type BodySource, UpstreamBody } from './upstream_body.ts';

type Controller = Dispatcher.DispatchController;

class UpstreamCall implements Dispatcher.DispatchHandler, BodySource {
  #controller: Controller | undefined;
  readonly #signal: CancelSignal;
  readonly #resolve: (r: UpstreamResponse) => void;
  readonly #reject: (err: unknown) => void;
  #body: UpstreamBody | undefined;
  /** the upstream request is over (answered to its end, failed or aborted): nothing left to cancel */
  #over = false;

  constructor(signal: CancelSignal, resolve: (r: UpstreamResponse) => void, reject: (err: unknown) => void) {
    this.#signal = signal;
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
    this.#signal.removeEventListener('abort', this.#onAbort);
    this.#body = undefined;
    this.#controller = undefined;
  }

  // --- BodySource: what the body asks of the request feeding it ---

  pause(): void {
    this.#controller?.pause();
  }

  resume(): void {
    this.#controller?.resume();
  }

  cancel(err: Error): void {
    if (this.#over) return;
    const controller = this.#controller;
    this.#finish();
    controller?.abort(err);
  }

  // --- undici's dispatch handler ---

  onRequestStart(controller: Controller): void {
    this.#controller = controller;
    if (this.#signal.aborted) controller.abort(this.#signal.reason as Error);
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

/** Sends one request on `dispatcher`; resolves at the response headers (see the top of the file). */
export function callUpstream(
  dispatcher: Dispatcher,
  opts: Dispatcher.DispatchOptions,
  signal: CancelSignal,
): Promise<UpstreamResponse> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    dispatcher.dispatch(opts, new UpstreamCall(signal, resolve, reject));
  });
}
