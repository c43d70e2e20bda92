// Request metrics, token and cost counters and the access log, in one place: an observer of the
// request lifecycle (lifecycle.ts), not calls scattered through the request path. The core publishes
// what happened (an attempt answered or failed, a stream's first byte, the exchange's end with its
// outcome); this file decides what each event is worth as metrics and log lines. Cost uses the one
// cost function the budgets settle with (policy/pricing.ts), so a tenant's budget and
// sluice_cost_usd_total never disagree.
import { subscribe } from 'node:diagnostics_channel';
import { costMicroUsd } from '../policy/pricing.ts';
import {
  type AttemptResponse,
  type AttemptTransportFailure,
  channels,
  type ExchangeEnd,
  type FirstByte,
  type RequestApi,
} from './lifecycle.ts';
import { metrics } from './metrics.ts';
import { modelLabel } from './model_labels.ts';

function attemptOutcome(status: number): string {
  if (status === 429) return 'http_429';
  if (status >= 500) return 'http_5xx';
  if (status >= 400) return 'http_4xx';
  return 'ok';
}

function onAttemptResponse(message: unknown): void {
  const r = message as AttemptResponse;
  const outcome = attemptOutcome(r.status);
  metrics.upstreamAttempts.inc(1, r.provider, outcome);
  metrics.upstreamDuration.observe(r.seconds, r.provider, outcome);
}

function onTransportFailure(message: unknown): void {
  const f = message as AttemptTransportFailure;
  metrics.upstreamAttempts.inc(
    1,
    f.provider,
    f.code === 'SLUICE_ERR_UPSTREAM_TIMEOUT' ? 'timeout' : 'connect',
  );
}

function onFirstByte(message: unknown): void {
  const f = message as FirstByte;
  metrics.timeToFirstToken.observe(f.seconds, f.api, f.provider, modelLabel(f.model), f.route);
}

function onExchangeEnd(message: unknown): void {
  const { end } = message as { end: ExchangeEnd };
  const namespace = end.namespace ?? 'none';
  const route = end.route ?? 'none';
  const seconds = end.seconds ?? 0;
  // a request Node's parser refused before any endpoint matched says none
  const api = end.api ?? 'none';
  if (end.cache) metrics.cache.inc({ namespace, result: end.cache });
  if (end.limit) metrics.limitRejections.inc({ namespace: end.namespace ?? 'unknown', limit: end.limit });
  // tokens and cost for what an upstream answered (a cache hit or a refused request used none)
  if (end.usage && end.provider && end.responseModel) recordUsage(end, namespace, api);
  if (end.truncated && end.stream)
    metrics.streamsTruncated.inc({ namespace, reason: end.truncatedBy ?? 'output_cap' });
  metrics.requests.inc(1, route, namespace, api, String(end.status), end.code);
  if (!end.plain)
    metrics.requestDuration.observe(
      seconds,
      api,
      end.provider ?? 'none',
      end.route && end.responseModel ? modelLabel(end.responseModel) : 'none',
      route,
      end.code === 'ok' ? '' : end.code,
    );
  end.accessLog?.({
    reqId: end.requestId ?? '',
    clientReqId: end.clientRequestId,
    // a line without a route says what was called (a served exchange's route and model say it)
    api: end.route === undefined ? api : undefined,
    namespace: end.namespace,
    route: end.route,
    model: end.responseModel,
    provider: end.provider,
    status: end.status,
    code: end.code,
    inputTokens: end.usage?.inputTokens,
    outputTokens: end.usage?.outputTokens,
    cache: end.cache,
    truncated: end.truncated,
    ms: Math.round(seconds * 1000),
  });
}

function recordUsage(end: ExchangeEnd, namespace: string, api: RequestApi): void {
  const usage = end.usage as NonNullable<ExchangeEnd['usage']>;
  const provider = end.provider as string;
  // a configured name or `other`: clients never choose label values
  const label = modelLabel(end.responseModel as string);
  metrics.tokens.inc(usage.inputTokens, namespace, label, provider, 'input');
  metrics.tokens.inc(usage.outputTokens, namespace, label, provider, 'output');
  if (usage.cachedInputTokens)
    metrics.tokens.inc(usage.cachedInputTokens, namespace, label, provider, 'cached_input');
  metrics.tokenUsage.observe(usage.inputTokens, 'input', api, provider, label, namespace);
  metrics.tokenUsage.observe(usage.outputTokens, 'output', api, provider, label, namespace);
  if (end.pricing) metrics.costUsd.inc(costMicroUsd(usage, end.pricing) / 1e6, namespace, label, provider);
}

/**
 * An observer must never break a request: diagnostics_channel would rethrow a subscriber's error as
 * an uncaught exception. A failing observer is reported once and the request goes on.
 */
function guarded(name: string, fn: (m: unknown) => void): (m: unknown) => void {
  let warned = false;
  return (m) => {
    try {
      fn(m);
    } catch (err) {
      if (warned) return;
      warned = true;
      process.emitWarning(`request observer ${name} failed: ${(err as Error)?.message}`, 'SluiceObserver');
    }
  };
}

let subscribed = false;

/** Subscribe the request metrics and access log (once per process; metrics are process-wide). */
export function observeRequests(): void {
  if (subscribed) return;
  subscribed = true;
  subscribe(channels.attemptResponse.name as string, guarded('attempt-response', onAttemptResponse));
  subscribe(channels.attemptTransportFailure.name as string, guarded('attempt-failure', onTransportFailure));
  subscribe(channels.streamFirstByte.name as string, guarded('first-byte', onFirstByte));
  subscribe(channels.exchangeEnd.name as string, guarded('exchange-end', onExchangeEnd));
}
