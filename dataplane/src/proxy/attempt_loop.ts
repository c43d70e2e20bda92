// The retry loop around attempts (the way undici's RetryHandler wraps a dispatch): walk the ordered
// backends (balanced first, then the fallback chain), skipping ejected ones, retrying retryable
// failures with backoff while the route's retry budget allows, and hand back the first attempt whose
// upstream answered 2xx. Each failed attempt is ended by the Attempt itself before the next is made,
// so the loop never holds more than one provider slot.
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClientApiSpec, ClientRequest } from '../api/types.ts';
import { effectiveTimeouts } from '../compiled/compile.ts';
import type { ProviderSlot } from '../compiled/provider_runtime.ts';
import type { CompiledRoute } from '../compiled/route.ts';
import { GatewayError } from '../errors.ts';
import {
  attemptFailed,
  type Exchange as ObservedExchange,
  startAttempt,
} from '../observability/lifecycle.ts';
import { metrics } from '../observability/metrics.ts';
import type { TranslateContext, Translator } from '../providers/types.ts';
import { Attempt } from './attempt.ts';
import { type CompiledBackend, upstreamModel } from './balancer.ts';
import { type CancelSignal, sleepSignal } from './cancellation.ts';
import type { PickContext } from './endpoint_picker.ts';
import type { Endpoint } from './endpoints.ts';
import { HOP_HEADER } from './hops.ts';
import { backoffMs, parseRetryAfter } from './retry.ts';

export interface AttemptInput {
  requestId: string;
  /** the caller's namespace: a provider's concurrency queue takes tenants in turn (concurrency.ts) */
  tenant: string;
  spec: ClientApiSpec;
  request: ClientRequest;
  route: CompiledRoute;
  candidates: readonly CompiledBackend[];
  /** aborted when the client goes away */
  signal: CancelSignal;
  /** carried across calls so retries and fallbacks of one request share one count */
  state: AttemptState;
  /** the hop count the request arrived with (hops.ts); upstream requests carry one more */
  hops: number;
  /** set when an observer listens (observability/lifecycle.ts): each attempt is published */
  observed: ObservedExchange | undefined;
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

/**
 * The first attempt from candidate `start` on whose upstream answered 2xx; it holds its provider slot
 * until the caller ends it. Throws the last failure (or why nothing could be tried).
 */
export async function runAttempts(input: AttemptInput, start = 0): Promise<Attempt> {
  const { route, candidates, signal, state } = input;
  const retry = route.config.retry;
  const budget = route.budgets.of(input.tenant);
  if (state.tries === 0) budget.recordRequest();
  let unsupported: GatewayError | undefined;
  const pick: PickContext = {
    promptText: () => input.spec.promptText(input.request.body),
    random: Math.random,
    tenant: input.tenant,
  };

  // Walk the candidates in order and wrap around, so a route with a single backend still gets its
  // `retry.attempts` retries; the tries count and the retry budget bound the walk.
  const end = start + candidates.length * (retry.attempts + 1);
  for (let k = start; k < end; k++) {
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
    if (!provider.available(input.tenant) || state.backedOff?.has(provider.name)) continue;
    if (state.tries > 0) {
      if (state.tries > retry.attempts || !budget.tryRetry(retry.budgetPercent)) break;
      await waitBeforeRetry(state, retry, signal);
      if (state.previous) {
        metrics.fallbacks.inc({
          route: route.name,
          from_provider: state.previous.provider.name,
          to_provider: provider.name,
          reason: state.lastError?.code ?? 'error',
        });
      }
    }
    const preparing = prepare(input, backend, translator, i, pick);
    const attempt = preparing instanceof Promise ? await preparing : preparing;
    if (!attempt) continue;
    const { upstreamRequest } = attempt;
    const a = attempt.attempt;
    try {
      const response = await a.send(upstreamRequest);
      a.responded(response);
      if (response.status < 400) return a;
      const failure = await a.rejected();
      state.lastError = failure;
      noteRetryAfter(state, provider.name, failure, retry.respectRetryAfterMaxMs);
      if (!retry.onStatus.includes(response.status)) throw failure;
    } catch (err) {
      // a non-retryable upstream answer, already ended by rejected()
      if (err === state.lastError) throw err;
      if (signal.aborted) {
        a.end('neutral', { error: { code: 'client_closed', message: 'the client went away' } });
        throw err;
      }
      const failure = a.failure(err);
      // a full queue is this replica's limit, not the provider's failure
      const queueFull = failure.code === 'SLUICE_ERR_QUEUE_FULL';
      if (!queueFull) attemptFailed(provider.name, failure.code);
      a.end(queueFull ? 'neutral' : 'failure', { error: failure });
      state.lastError = failure;
    }
    // a provider with several pods: the retry goes to a sibling pod before the next backend
    if (provider.endpoints.hasUntried(state.tried, input.tenant)) k--;
  }
  if (state.lastError) throw state.lastError;
  if (unsupported) throw unsupported;
  throw new GatewayError(
    'SLUICE_ERR_NO_HEALTHY_BACKEND',
    `route '${route.name}': every backend is ejected or unhealthy`,
    { headers: { 'retry-after': '1' } },
  );
}

type UpstreamRequestOf = Awaited<ReturnType<Translator['buildRequest']>>;
interface Prepared {
  attempt: Attempt;
  upstreamRequest: UpstreamRequestOf;
}

/**
 * Take a provider slot and build the upstream request: an Attempt ready to send, or undefined when
 * the provider has no slot. Synchronous unless the translator builds asynchronously (Bedrock signs
 * asynchronously), so most requests pay no promise here.
 */
function prepare(
  input: AttemptInput,
  backend: CompiledBackend,
  translator: Translator,
  index: number,
  pick: PickContext,
): Prepared | Promise<Prepared> | undefined {
  const { state } = input;
  const provider = backend.provider;
  const slot = provider.acquire(pick, state.tried);
  if (!slot) return undefined;
  // remembered only where there is a sibling to prefer (no allocation for a one-endpoint provider)
  if (provider.endpoints.list.length > 1) {
    state.tried ??= new Set();
    state.tried.add(slot.endpoint);
  }
  state.tries++;
  state.previous = backend;
  const tctx = translateContext(input, backend);
  let built: UpstreamRequestOf | Promise<UpstreamRequestOf>;
  try {
    const clientBody = translator.leavesBodyIntact ? input.request.body : structuredClone(input.request.body);
    built = translator.buildRequest(clientBody, tctx);
  } catch (err) {
    return notBuilt(slot, err);
  }
  if (built instanceof Promise)
    return built.then(
      (req) => ready(input, backend, translator, index, slot, tctx, req),
      (err) => notBuilt(slot, err),
    );
  return ready(input, backend, translator, index, slot, tctx, built);
}

/**
 * The request is at fault, not the provider, when it cannot be built: the slot goes back without
 * touching the circuit (a half-open probe slot kept here would eject the provider for every tenant
 * until a restart).
 */
function notBuilt(slot: ProviderSlot, err: unknown): never {
  slot.release('neutral');
  throw err;
}

/** The built request with its hop header, published to observers, and the Attempt that sends it. */
function ready(
  input: AttemptInput,
  backend: CompiledBackend,
  translator: Translator,
  index: number,
  slot: ProviderSlot,
  tctx: TranslateContext,
  upstreamRequest: UpstreamRequestOf,
): Prepared {
  const { state, route } = input;
  const provider = backend.provider;
  // the translator's headers are a provider's shared frozen object: one copy with the hop count
  upstreamRequest.headers = { ...upstreamRequest.headers, [HOP_HEADER]: String(input.hops + 1) };
  // observers see the attempt before it is sent, and may add trace context to that header copy
  const observed =
    input.observed &&
    startAttempt({
      exchange: input.observed,
      provider: provider.name,
      providerType: provider.resolved.config.type,
      model: tctx.upstreamModel,
      origin: slot.endpoint.origin,
      index,
      fallback: index >= input.candidates.length - route.fallback.length,
      tryNumber: state.tries,
      headers: upstreamRequest.headers,
    });
  const timeouts = route.config.timeouts
    ? effectiveTimeouts(provider.timeouts, route.config.timeouts)
    : provider.timeouts;
  const attempt = new Attempt({
    backend,
    slot,
    translator,
    tctx,
    timeouts,
    index,
    clientGone: input.signal,
    observed,
  });
  return { attempt, upstreamRequest };
}

async function waitBeforeRetry(
  state: AttemptState,
  retry: CompiledRoute['config']['retry'],
  signal: CancelSignal,
): Promise<void> {
  const wait = state.lastError?.headers?.['retry-after'];
  const retryAfter = wait === undefined ? undefined : parseRetryAfter(wait);
  // asked for longer than we may wait: that provider is skipped (backedOff), move on without sleeping
  if (retryAfter !== undefined && retryAfter > retry.respectRetryAfterMaxMs) return;
  const delay = retryAfter !== undefined ? retryAfter : backoffMs(state.tries - 1, retry);
  if (delay > 0) await sleep(delay, undefined, { signal: sleepSignal(signal) });
}

/** Asked to wait longer than we may: do not ask this provider again within this request. */
function noteRetryAfter(state: AttemptState, provider: string, failure: GatewayError, maxMs: number): void {
  const wait = failure.headers?.['retry-after'];
  const ms = wait === undefined ? undefined : parseRetryAfter(wait);
  if (ms !== undefined && ms > maxMs) {
    state.backedOff ??= new Set();
    state.backedOff.add(provider);
  }
}
