// The request path's lifecycle as events on Node's diagnostics channels: a request (an "exchange")
// starts, each upstream attempt starts, answers or fails, a stream's first byte goes out, a whole
// answer is ready, the exchange ends. Observers subscribe; the core only publishes, and only when
// someone listens: with no subscriber every helper returns at its first check, allocating nothing.
// Two kinds of observers: request metrics and the access log (request_observer.ts, always on in a
// serving dataplane) follow the outcome events (attempt answered/failed, first byte, exchange end);
// tracing (tracing_otel.ts) follows every event, and the per-attempt events carry an exchange only
// when tracing started one.
import { channel } from 'node:diagnostics_channel';
import type { IncomingHttpHeaders } from 'node:http';
import type { Pricing } from '../config/schema.ts';
import type { ClientApi, Usage } from '../providers/types.ts';
import type { AccessWriter } from './access_log.ts';

export interface Exchange {
  requestId: string;
  api: ClientApi;
  method: string;
  /** the URL path the client called (no query) */
  path: string;
  /** the client's request headers (traceparent/tracestate are read from here) */
  headers: IncomingHttpHeaders;
  /** Date.now() when the request arrived */
  startedAt: number;
  /** an observer's own state for this exchange (the tracing subscriber keeps its span here) */
  observer?: unknown;
}

export interface AttemptStart {
  exchange: Exchange;
  /** the provider's name in the config, its type (preset) and the model sent upstream */
  provider: string;
  providerType: string;
  model: string;
  /** the endpoint's origin, e.g. https://api.openai.com */
  origin: string;
  /** position in the route's candidate list, and whether it comes from the fallback chain */
  index: number;
  fallback: boolean;
  /** 1 for the first try of the request, 2 for the first retry, ... */
  tryNumber: number;
  /** the upstream request's headers, still writable: observers add trace context (traceparent) */
  headers: Record<string, string>;
  /** the upstream's HTTP status once it answered with a success (failures come with endAttempt) */
  status?: number;
  observer?: unknown;
}

export interface AttemptEnd {
  /** the upstream's HTTP status, when it answered */
  status?: number;
  /** the failure as the client would see it (its code, e.g. SLUICE_ERR_UPSTREAM_TIMEOUT) */
  error?: { code: string; message: string };
}

/**
 * The `api` of a request that is no exchange (nothing goes upstream): the endpoint it called, so a
 * model list, a token count or a stored-response lookup never counts as a chat request. `none`: a
 * request that matched no endpoint (an unknown path, one the HTTP parser refused).
 */
export type EndpointApi =
  | 'openai-models'
  | 'anthropic-models'
  | 'anthropic-count-tokens'
  | 'openai-responses-retrieve'
  | 'openai-responses-input-items'
  | 'openai-responses-delete'
  | 'none';

/** The `api` label of sluice_requests_total: the client API of an exchange, or the endpoint called. */
export type RequestApi = ClientApi | EndpointApi;

export interface ExchangeEnd {
  status: number;
  code: string;
  requestModel?: string;
  stream?: boolean;
  /** the client's parsed request body (content is recorded only where a policy opts in) */
  body?: Record<string, unknown>;
  route?: string;
  namespace?: string;
  provider?: string;
  responseModel?: string;
  usage?: Usage;
  finishReason?: string;
  cache?: 'hit' | 'miss';
  truncated?: boolean;
  /** which limit refused the request (requests, tokens, budget, ...) */
  limit?: string;
  /** the request's id, its client API (or endpoint) and how long it took (metrics, access log) */
  requestId?: string;
  /** the client's own id for the request (proxy/request_id.ts), for correlation only */
  clientRequestId?: string;
  api?: RequestApi;
  /**
   * No generative operation was asked for (a model list, a token count, a stored response): counted
   * in sluice_requests_total, kept out of gen_ai_server_request_duration.
   */
  plain?: boolean;
  seconds?: number;
  /** what cut a truncated stream: the request's output cap or the tenant's window budget */
  truncatedBy?: 'output_cap' | 'budget';
  /** the answering model's prices (the cost metric uses the budget's cost function) */
  pricing?: Pricing | undefined;
  /** where this request's access line goes (its dataplane's logger) */
  accessLog?: AccessWriter;
}

/** An upstream answered (headers received), for the attempt metrics. */
export interface AttemptResponse {
  provider: string;
  status: number;
  /** from the attempt's start to the upstream's headers */
  seconds: number;
}

/** An attempt failed without an HTTP answer (connect error, timeout, reset). */
export interface AttemptTransportFailure {
  provider: string;
  /** the gateway error's code, e.g. SLUICE_ERR_UPSTREAM_TIMEOUT */
  code: string;
}

/** A stream's first byte reached the client. */
export interface FirstByte {
  api: ClientApi;
  provider: string;
  model: string;
  route: string;
  /** from the request's arrival to the first byte */
  seconds: number;
}

const exchangeStart = channel('sluice:exchange:start');
const exchangeEnd = channel('sluice:exchange:end');
const attemptStart = channel('sluice:attempt:start');
const attemptEnd = channel('sluice:attempt:end');
const firstToken = channel('sluice:attempt:first-token');
const answered = channel('sluice:attempt:answer');

const attemptResponse = channel('sluice:attempt:response');
const attemptTransportFailure = channel('sluice:attempt:transport-failure');
const streamFirstByte = channel('sluice:exchange:first-byte');

export const channels = {
  exchangeStart,
  exchangeEnd,
  attemptStart,
  attemptEnd,
  firstToken,
  answered,
  attemptResponse,
  attemptTransportFailure,
  streamFirstByte,
};

/** A new exchange, or undefined when nobody observes requests (then every other helper is skipped). */
export function startExchange(
  requestId: string,
  api: ClientApi,
  method: string,
  url: string,
  headers: IncomingHttpHeaders,
): Exchange | undefined {
  if (!exchangeStart.hasSubscribers) return undefined;
  const q = url.indexOf('?');
  const exchange: Exchange = {
    requestId,
    api,
    method,
    path: q < 0 ? url : url.slice(0, q),
    headers,
    startedAt: Date.now(),
  };
  exchangeStart.publish(exchange);
  return exchange;
}

/** Is anyone following how exchanges end (then the exchange builds its ExchangeEnd)? */
export function exchangeEndObserved(): boolean {
  return exchangeEnd.hasSubscribers;
}

/** The exchange ended; `exchange` is undefined when no observer followed its start (no tracing). */
export function endExchange(exchange: Exchange | undefined, end: ExchangeEnd): void {
  if (exchangeEnd.hasSubscribers) exchangeEnd.publish({ exchange, end });
}

export function attemptResponded(provider: string, status: number, seconds: number): void {
  if (attemptResponse.hasSubscribers)
    attemptResponse.publish({ provider, status, seconds } satisfies AttemptResponse);
}

export function attemptFailed(provider: string, code: string): void {
  if (attemptTransportFailure.hasSubscribers)
    attemptTransportFailure.publish({ provider, code } satisfies AttemptTransportFailure);
}

export function firstByteSent(
  api: ClientApi,
  provider: string,
  model: string,
  route: string,
  seconds: number,
): void {
  if (streamFirstByte.hasSubscribers)
    streamFirstByte.publish({ api, provider, model, route, seconds } satisfies FirstByte);
}

/** An upstream attempt is about to be sent; observers may add headers to `start.headers`. */
export function startAttempt(start: AttemptStart): AttemptStart {
  attemptStart.publish(start);
  return start;
}

export function endAttempt(attempt: AttemptStart | undefined, end: AttemptEnd): void {
  if (attempt) attemptEnd.publish({ attempt, end });
}

export function attemptFirstToken(attempt: AttemptStart | undefined): void {
  if (attempt) firstToken.publish({ attempt, at: Date.now() });
}

/**
 * A collector for a streamed answer's text when an observer may record it, else undefined (nothing
 * is kept). Bounded: observers record at most 16 KiB of an answer.
 */
export function answerCollector(
  attempt: AttemptStart | undefined,
): { add(t: string): void; text(): string } | undefined {
  if (!attempt || !answered.hasSubscribers) return undefined;
  let text = '';
  return {
    add(t) {
      if (text.length < ANSWER_MAX_CHARS) text += t.slice(0, ANSWER_MAX_CHARS - text.length);
    },
    text: () => text,
  };
}

const ANSWER_MAX_CHARS = 16 * 1024;

/** An answer in the client's format (whole), or a stream's delivered text, before it is sent. */
export function attemptAnswered(attempt: AttemptStart | undefined, body: string | Buffer): void {
  if (attempt && answered.hasSubscribers) answered.publish({ attempt, body });
}
