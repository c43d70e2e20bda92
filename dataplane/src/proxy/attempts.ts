// The attempt loop: walk the ordered backends (balanced first, then the fallback chain), skipping
// ejected ones, retrying retryable failures with backoff while the route's retry budget allows, and
// return the first 2xx upstream response with everything needed to translate it.
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClientApiSpec, ClientRequest } from '../api/types.ts';
import { effectiveTimeouts } from '../compiled/compile.ts';
import type { CompiledRoute } from '../compiled/route.ts';
import { GatewayError } from '../errors.ts';
import { type AttemptStart, type Exchange, endAttempt, startAttempt } from '../observability/lifecycle.ts';
import { metrics } from '../observability/metrics.ts';
import type { TranslateContext, Translator } from '../providers/types.ts';
import { type CompiledBackend, upstreamModel } from './balancer.ts';
import type { PickContext } from './endpoint_picker.ts';
import type { Endpoint } from './endpoints.ts';
import { HOP_HEADER } from './hops.ts';
import { backoffMs, parseRetryAfter } from './retry.ts';
import { type EffectiveTimeouts, type UpstreamResponse, upstreamFailure } from './transport.ts';

export interface AttemptInput {
  requestId: string;
  spec: ClientApiSpec;
  request: ClientRequest;
  route: CompiledRoute;
  candidates: CompiledBackend[];
  /** aborted when the client goes away */
  signal: AbortSignal;
  /** index in candidates to start from (after a stream failed before its first byte) */
  start?: number;
  /** carried across calls so retries and fallbacks of one request share one count */
  state?: AttemptState;
  /** the hop count the request arrived with (hops.ts); upstream requests carry one more */
  hops?: number;
  /** set when an observer listens (observability/lifecycle.ts): each attempt is published */
  exchange?: Exchange | undefined;
}

export interface AttemptState {
  tries: number;
  /** providers that asked us to wait longer than we may (Retry-After): not retried in this request */
  backedOff?: Set<string>;
  lastError?: GatewayError;
  previous?: CompiledBackend;
  /** endpoints this request already tried: a retry on the same provider goes to a sibling pod */
  tried?: Set<Endpoint>;
}

export interface Attempt {
  backend: CompiledBackend;
  /** the provider's endpoint (pod) serving this attempt */
  endpoint: Endpoint;
  translator: Translator;
  tctx: TranslateContext;
  response: UpstreamResponse;
  timeouts: EffectiveTimeouts;
  /** abort this to cancel the upstream request (client gone, cap reached) */
  controller: AbortController;
  startedAt: number;
  /** position of backend in the candidate list */
  index: number;
  /** release the provider's concurrency slot and outstanding count; idempotent */
  release(outcome: 'ok' | 'failure' | 'neutral'): void;
  /** this attempt as published to observers (undefined when none listens) */
  observed?: AttemptStart | undefined;
}

const MAX_ERROR_BODY = 64 * 1024;

async function readBounded(body: UpstreamResponse['body'], limit: number): Promise<Buffer> {
  // a stream that already ended or failed goes the iterator's way, which reports its state at once
  if (body instanceof Readable && !body.destroyed && !body.readableEnded)
    return readStreamBounded(body, limit);
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    parts.push(chunk);
    if (size > limit) {
      // stop reading: the caller sees a result longer than `limit` and knows it was cut
      body.destroy();
      break;
    }
  }
  return Buffer.concat(parts);
}

function ignoreError(): void {}

/**
 * readBounded for a Node stream (undici's bodies) through its events: an async iterator costs a promise
 * and an iterator result per chunk, ~3 µs of a whole answer in the bench profile. Same outcomes: the
 * bytes (more than `limit` means cut), or the stream's error, or a premature-close error.
 */
function readStreamBounded(body: Readable, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    const done = () => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      body.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      parts.push(chunk);
      if (size > limit) {
        done();
        // undici reports destroy() before the end as an AbortError 'error' event: expected, ours
        body.on('error', ignoreError);
        body.destroy();
        resolve(Buffer.concat(parts));
      }
    };
    const onEnd = () => {
      done();
      resolve(parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts));
    };
    const onError = (err: Error) => {
      done();
      reject(err);
    };
    const onClose = () => {
      done();
      const err = new Error('Premature close') as NodeJS.ErrnoException;
      err.code = 'ERR_STREAM_PREMATURE_CLOSE';
      reject(err);
    };
    body.on('data', onData);
    body.on('end', onEnd);
    body.on('error', onError);
    body.on('close', onClose);
  });
}

function outcomeLabel(status: number): string {
  if (status === 429) return 'http_429';
  if (status >= 500) return 'http_5xx';
  if (status >= 400) return 'http_4xx';
  return 'ok';
}

/** Builds the translation context for one backend. */
function translateContext(input: AttemptInput, backend: CompiledBackend): TranslateContext {
  return {
    provider: backend.provider.resolved,
    upstreamModel: upstreamModel(backend, input.request.model),
    clientModel: input.request.model,
    clientApi: input.spec.api,
    stream: input.request.stream,
    requestId: input.requestId,
    clientWantsStreamUsage: input.request.wantsStreamUsage,
    forward: input.request.forward,
  };
}

export async function runAttempts(input: AttemptInput): Promise<Attempt> {
  const { route, candidates, signal } = input;
  const retry = route.config.retry;
  const state = input.state ?? { tries: 0 };
  if (state.tries === 0) route.budget.recordRequest();
  let unsupported: GatewayError | undefined;
  const pick: PickContext = {
    promptText: () => input.spec.promptText(input.request.body),
    random: Math.random,
  };

  // Walk the candidates in order and wrap around, so a route with a single backend still gets its
  // `retry.attempts` retries; the tries count and the retry budget bound the walk.
  const first = input.start ?? 0;
  const end = first + candidates.length * (retry.attempts + 1);
  for (let k = first; k < end; k++) {
    const i = k % candidates.length;
    const backend = candidates[i] as CompiledBackend;
    const provider = backend.provider;
    const translator = provider.translators[input.spec.api];
    if (!translator) {
      unsupported ??= new GatewayError(
        'SLUICE_ERR_UNSUPPORTED_FEATURE',
        `provider '${provider.name}' (${provider.resolved.preset.displayName}) does not support ${input.spec.path}`,
      );
      continue;
    }
    if (!provider.available() || state.backedOff?.has(provider.name)) continue;
    if (state.tries > 0) {
      if (state.tries > retry.attempts || !route.budget.tryRetry(retry.budgetPercent)) break;
      const wait = state.lastError?.headers?.['retry-after'];
      const retryAfter = wait === undefined ? undefined : parseRetryAfter(wait);
      const delay = retryAfter !== undefined ? retryAfter : backoffMs(state.tries - 1, retry);
      if (retryAfter !== undefined && retryAfter > retry.respectRetryAfterMaxMs) {
        // the upstream asked for longer than we may wait: move on without sleeping
      } else if (delay > 0) {
        await sleep(delay, undefined, { signal });
      }
      if (state.previous) {
        metrics.fallbacks.inc({
          route: route.name,
          from_provider: state.previous.provider.name,
          to_provider: provider.name,
          reason: state.lastError?.code ?? 'error',
        });
      }
    }
    const endpoint = provider.endpoints.acquire(pick, state.tried);
    if (!endpoint) continue;
    // remembered only where there is a sibling to prefer (no allocation for a one-endpoint provider)
    if (provider.endpoints.list.length > 1) {
      state.tried ??= new Set();
      state.tried.add(endpoint);
    }
    state.tries++;
    state.previous = backend;

    const tctx = translateContext(input, backend);
    let upstreamReq: Awaited<ReturnType<Translator['buildRequest']>>;
    try {
      const clientBody = translator.leavesBodyIntact
        ? input.request.body
        : structuredClone(input.request.body);
      upstreamReq = await translator.buildRequest(clientBody, tctx);
    } catch (err) {
      // The request is at fault, not the provider: give the circuit slot back (a half-open probe slot
      // kept here would eject the provider for every tenant until a restart).
      endpoint.breaker.release();
      throw err;
    }
    // the translator's headers are a provider's shared frozen object: one copy with the hop count
    upstreamReq.headers = { ...upstreamReq.headers, [HOP_HEADER]: String((input.hops ?? 0) + 1) };
    // observers see the attempt before it is sent, and may add trace context to that header copy
    const observed =
      input.exchange &&
      startAttempt({
        exchange: input.exchange,
        provider: provider.name,
        providerType: provider.resolved.config.type,
        model: tctx.upstreamModel,
        origin: endpoint.origin,
        index: i,
        fallback: i >= candidates.length - route.fallback.length,
        tryNumber: state.tries,
        headers: upstreamReq.headers,
      });
    const timeouts = route.config.timeouts
      ? effectiveTimeouts(provider.timeouts, route.config.timeouts)
      : provider.timeouts;
    const controller = new AbortController();
    const onClientAbort = () => controller.abort(signal.reason);
    signal.addEventListener('abort', onClientAbort, { once: true });
    // The total timeout is a plain timer cleared on release: AbortSignal.timeout() would keep every
    // request's signal and timer alive for the whole timeout (minutes) after the request ended.
    const totalTimer = setTimeout(
      () => controller.abort(new DOMException(`total timeout of ${timeouts.totalMs} ms`, 'TimeoutError')),
      timeouts.totalMs,
    );

    let released = false;
    let limited = false;
    const release = (outcome: 'ok' | 'failure' | 'neutral') => {
      if (released) return;
      released = true;
      clearTimeout(totalTimer);
      signal.removeEventListener('abort', onClientAbort);
      provider.outstanding--;
      endpoint.outstanding--;
      if (limited) provider.limiter?.release();
      if (outcome === 'ok') {
        endpoint.breaker.success();
        endpoint.observeLatency(performance.now() - startedAt);
      } else if (outcome === 'failure') endpoint.breaker.failure();
      else endpoint.breaker.release();
    };

    provider.outstanding++;
    endpoint.outstanding++;
    const startedAt = performance.now();
    try {
      if (provider.limiter) {
        await provider.limiter.acquire(signal, provider.name);
        limited = true;
      }
      const response = await endpoint.transport.send(upstreamReq, controller.signal, timeouts);
      const elapsed = (performance.now() - startedAt) / 1000;
      const outcome = outcomeLabel(response.status);
      metrics.upstreamAttempts.inc(1, provider.name, outcome);
      metrics.upstreamDuration.observe(elapsed, provider.name, outcome);
      if (response.status < 400) {
        if (observed) observed.status = response.status;
        return {
          backend,
          endpoint,
          translator,
          tctx,
          response,
          timeouts,
          controller,
          startedAt,
          index: i,
          release,
          observed,
        };
      }
      const body = await readBounded(response.body, MAX_ERROR_BODY).catch(() => Buffer.alloc(0));
      const info = translator.parseError(response.status, body, tctx);
      const retryable = retry.onStatus.includes(response.status);
      release(response.status >= 500 ? 'failure' : 'neutral');
      const retryAfter = response.headers['retry-after'];
      const headers: Record<string, string> = {};
      if (typeof retryAfter === 'string') {
        headers['retry-after'] = retryAfter;
        // Asked to wait longer than we may: do not ask this provider again within this request.
        const ms = parseRetryAfter(retryAfter);
        if (ms !== undefined && ms > retry.respectRetryAfterMaxMs) {
          state.backedOff ??= new Set();
          state.backedOff.add(provider.name);
        }
      }
      const msg = `provider '${provider.name}' answered ${response.status}: ${info.message}`;
      // the provider's type/code/param ride along (clients act on them); the pipeline redacts them
      const upstream = {
        provider: provider.name,
        status: response.status,
        type: info.type ?? null,
        code: info.code ?? null,
        param: info.param ?? null,
      };
      // 508 stays 508 on the way back: every gateway in a loop answers it without retrying (a 502
      // would be retried at each level, multiplying the requests)
      const failure =
        response.status === 508
          ? new GatewayError('SLUICE_ERR_LOOP_DETECTED', msg)
          : response.status === 429
            ? new GatewayError('SLUICE_ERR_UPSTREAM_RATE_LIMITED', msg, { headers, upstream })
            : response.status >= 500
              ? new GatewayError('SLUICE_ERR_UPSTREAM_ERROR', msg, { headers, upstream })
              : new GatewayError('SLUICE_ERR_UPSTREAM_REJECTED', msg, { status: response.status, upstream });
      state.lastError = failure;
      endAttempt(observed, { status: response.status, error: failure });
      if (!retryable) throw failure;
    } catch (err) {
      // a non-retryable upstream answer, already released above
      if (err === state.lastError) throw err;
      if (signal.aborted) {
        release('neutral');
        endAttempt(observed, { error: { code: 'client_closed', message: 'the client went away' } });
        throw err;
      }
      const failure = upstreamFailure(err, provider.name, timeouts);
      if (failure.code === 'SLUICE_ERR_QUEUE_FULL') {
        release('neutral');
      } else {
        metrics.upstreamAttempts.inc(
          1,
          provider.name,
          failure.code === 'SLUICE_ERR_UPSTREAM_TIMEOUT' ? 'timeout' : 'connect',
        );
        release('failure');
      }
      state.lastError = failure;
      endAttempt(observed, { error: failure });
    }
    // a provider with several pods: the retry goes to a sibling pod before the next backend
    if (provider.endpoints.hasUntried(state.tried)) k--;
  }
  if (state.lastError) throw state.lastError;
  if (unsupported) throw unsupported;
  throw new GatewayError(
    'SLUICE_ERR_NO_HEALTHY_BACKEND',
    `route '${route.name}': every backend is ejected or unhealthy`,
    {
      headers: { 'retry-after': '1' },
    },
  );
}

export { readBounded };
