// One upstream attempt, from the provider slot it holds to the end of its answer. The object owns
// everything an attempt takes: the provider slot (endpoint circuit slot, outstanding counts, the
// concurrency turn), the abort controller the upstream request listens to, the total timeout and the
// link to the client's abort signal. It gives all of it back in one place, end(), which runs once
// whichever way the attempt ends (answered, failed, cut by a cap, the client gone, a translation
// error); every later call is a no-op. The retry loop (attempt_loop.ts) wraps attempts; the answer
// writers (answer_whole.ts, answer_stream.ts) end the one that answered.

import type { ProviderRuntime, ProviderSlot, SlotOutcome } from '../compiled/provider_runtime.ts';
import { GatewayError } from '../errors.ts';
import { type AttemptStart, attemptResponded, endAttempt } from '../observability/lifecycle.ts';
import type { TranslateContext, Translator, UpstreamRequest } from '../providers/types.ts';
import type { CompiledBackend } from './balancer.ts';
import { Cancellation, type CancelSignal } from './cancellation.ts';
import type { Endpoint } from './endpoints.ts';
import { type EffectiveTimeouts, type UpstreamResponse, upstreamFailure } from './transport.ts';

export interface AttemptInit {
  backend: CompiledBackend;
  slot: ProviderSlot;
  translator: Translator;
  tctx: TranslateContext;
  timeouts: EffectiveTimeouts;
  /** position of the backend in the candidate list */
  index: number;
  /** the client's signal: its abort cancels the upstream request */
  clientGone: CancelSignal;
  /** this attempt as published to observers (undefined when none listens) */
  observed: AttemptStart | undefined;
}

/** How long an upstream's error body may be (it is read only to build the client's error). */
const MAX_ERROR_BODY = 64 * 1024;

export class Attempt {
  readonly backend: CompiledBackend;
  readonly provider: ProviderRuntime;
  readonly endpoint: Endpoint;
  readonly translator: Translator;
  readonly tctx: TranslateContext;
  readonly timeouts: EffectiveTimeouts;
  readonly index: number;
  readonly observed: AttemptStart | undefined;
  /** aborting it cancels the upstream request (client gone, cap reached, timeout) */
  readonly controller = new Cancellation();
  readonly startedAt = performance.now();
  /** the upstream's answer once send() resolved */
  response: UpstreamResponse | undefined;
  readonly #slot: ProviderSlot;
  readonly #clientGone: CancelSignal;
  readonly #timer: NodeJS.Timeout;
  #ended = false;

  constructor(init: AttemptInit) {
    this.backend = init.backend;
    this.provider = init.backend.provider;
    this.endpoint = init.slot.endpoint;
    this.translator = init.translator;
    this.tctx = init.tctx;
    this.timeouts = init.timeouts;
    this.index = init.index;
    this.observed = init.observed;
    this.#slot = init.slot;
    this.#clientGone = init.clientGone;
    init.clientGone.addEventListener('abort', this.#onClientGone, { once: true });
    // A plain timer cleared by end(): AbortSignal.timeout() would keep every request's signal and
    // timer alive for the whole timeout (minutes) after the request ended.
    this.#timer = setTimeout(this.#onTotalTimeout, init.timeouts.totalMs);
  }

  readonly #onClientGone = () => this.controller.abort(this.#clientGone.reason);

  readonly #onTotalTimeout = () =>
    this.controller.abort(new DOMException(`total timeout of ${this.timeouts.totalMs} ms`, 'TimeoutError'));

  get ended(): boolean {
    return this.#ended;
  }

  /** The upstream's body (only once send() resolved). */
  get upstreamBody(): UpstreamResponse['body'] {
    return (this.response as UpstreamResponse).body;
  }

  /**
   * Send the request: wait for the provider's concurrency turn, then for the upstream's headers. The
   * caller hands the response to responded() (not an async step here: one promise less per request).
   */
  send(request: UpstreamRequest): Promise<UpstreamResponse> {
    const turn = this.#slot.waitTurn(this.#clientGone, this.provider.name);
    if (turn)
      return turn.then(() => this.endpoint.transport.send(request, this.controller.signal, this.timeouts));
    return this.endpoint.transport.send(request, this.controller.signal, this.timeouts);
  }

  /** The upstream answered (any status): keep its response and publish it. */
  responded(response: UpstreamResponse): void {
    this.response = response;
    attemptResponded(this.provider.name, response.status, (performance.now() - this.startedAt) / 1000);
    if (this.observed && response.status < 400) this.observed.status = response.status;
  }

  /**
   * The upstream answered with an error status: read its (bounded) body and end the attempt with the
   * error the client would see, which it returns (the retry loop decides whether to try again).
   */
  async rejected(): Promise<GatewayError> {
    const response = this.response as UpstreamResponse;
    const body = await response.body.readAll(MAX_ERROR_BODY).catch(() => Buffer.alloc(0));
    const info = this.translator.parseError(response.status, body, this.tctx, response.headers);
    const name = this.provider.name;
    const status = response.status;
    const headers: Record<string, string> = {};
    const retryAfter = response.headers['retry-after'];
    if (typeof retryAfter === 'string') headers['retry-after'] = retryAfter;
    const msg = `provider '${name}' answered ${status}: ${info.message}`;
    // the provider's type/code/param ride along (clients act on them); the exchange redacts them
    const upstream = {
      provider: name,
      status,
      type: info.type ?? null,
      code: info.code ?? null,
      param: info.param ?? null,
    };
    // 508 stays 508 on the way back: every gateway in a loop answers it without retrying (a 502
    // would be retried at each level, multiplying the requests)
    const failure =
      status === 508
        ? new GatewayError('SLUICE_ERR_LOOP_DETECTED', msg)
        : status === 429
          ? new GatewayError('SLUICE_ERR_UPSTREAM_RATE_LIMITED', msg, { headers, upstream })
          : status >= 500
            ? new GatewayError('SLUICE_ERR_UPSTREAM_ERROR', msg, { headers, upstream })
            : new GatewayError('SLUICE_ERR_UPSTREAM_REJECTED', msg, { status, upstream });
    this.end(status >= 500 ? 'failure' : 'neutral', { status, error: failure });
    return failure;
  }

  /** The documented gateway error for a transport failure of this attempt (timeout, reset, ...). */
  failure(err: unknown): GatewayError {
    return upstreamFailure(err, this.provider.name, this.timeouts);
  }

  /** Cancel the upstream request (the answer is not wanted any more); end() still has to run. */
  abort(): void {
    this.controller.abort();
  }

  /**
   * The one way an attempt ends. `ok` (a complete answer) closes the endpoint's circuit and feeds
   * the latency averages; `failure` counts against the circuit; `neutral` does neither (the client
   * left, a cap cut the answer, the request was at fault). A failure is published to observers; an
   * answered attempt's span ends with the exchange. Runs once; later calls do nothing.
   */
  end(outcome: SlotOutcome, failed?: { status?: number; error: { code: string; message: string } }): void {
    if (this.#ended) return;
    this.#ended = true;
    clearTimeout(this.#timer);
    this.#clientGone.removeEventListener('abort', this.#onClientGone);
    const ms = performance.now() - this.startedAt;
    this.#slot.release(outcome, ms);
    if (outcome === 'ok') this.provider.observeLatency(this.tctx.upstreamModel, ms, this.#slot.tenant);
    if (failed) endAttempt(this.observed, failed);
  }
}
