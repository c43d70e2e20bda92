// OpenTelemetry spans from the request path's lifecycle events (lifecycle.ts), loaded only when tracing
// is on (tracing.ts). One SERVER span per request and one CLIENT span per upstream attempt, named and
// attributed after the OpenTelemetry GenAI semantic conventions, plus Sluice's own attributes. A
// client's W3C traceparent is, by default (`clientTraceContext: link`), a link of a trace Sluice
// starts: continued as the parent, it let a tenant put its spans into another tenant's trace (a trace
// id it had seen in a shared log or support ticket) and give thousands of requests one trace id, as
// an HTTP server at a trust boundary should not (OpenTelemetry's "public endpoint"). With `parent`
// (trusted callers) the client's traceparent/tracestate is the server span's parent, as before. Either
// way its sampled flag decides whether the request is recorded, and each attempt sends its own span's
// traceparent (with the server span's tracestate) to the provider. Exported over OTLP/HTTP (protobuf).
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import {
  type Attributes,
  defaultTextMapGetter,
  defaultTextMapSetter,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_SERVICE_NAME,
  ATTR_URL_PATH,
} from '@opentelemetry/semantic-conventions';
import type { TracingConfig } from '../config/schema.ts';
import type { ClientApi } from '../providers/types.ts';
import { clientRequestId } from '../proxy/request_id.ts';
import { logRedactor } from '../security/redactor.ts';
import {
  type AttemptEnd,
  type AttemptStart,
  channels,
  type Exchange,
  type ExchangeEnd,
} from './lifecycle.ts';
import type { RunningTracer, TracingScope } from './tracing.ts';

/** gen_ai.operation.name by client API (a new client API is a chat until it says otherwise) */
const OPERATION_BY_API: Partial<Record<ClientApi, string>> & Record<string, string> = {
  'openai-chat': 'chat',
  'anthropic-messages': 'chat',
  'openai-responses': 'chat',
  'openai-completions': 'text_completion',
  'openai-embeddings': 'embeddings',
};

/** gen_ai.provider.name for provider types that have a well-known value; others use their type */
const PROVIDER_NAME: Record<string, string> = {
  'azure-openai': 'azure.ai.openai',
  gemini: 'gcp.gemini',
  bedrock: 'aws.bedrock',
  mistral: 'mistral_ai',
  xai: 'x_ai',
};

const operation = (api: ClientApi) => OPERATION_BY_API[api] ?? 'chat';

/** server.address / server.port of an endpoint origin, parsed once per origin (the mock has none) */
const serverAddresses = new Map<string, Attributes>();
function serverAttributes(origin: string): Attributes {
  let attrs = serverAddresses.get(origin);
  if (!attrs) {
    attrs = {};
    if (origin.includes('://')) {
      const url = new URL(origin);
      attrs[ATTR_SERVER_ADDRESS] = url.hostname;
      attrs[ATTR_SERVER_PORT] = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
    }
    // bounded by the configured endpoints; a config with many discovered pods reuses the same few
    if (serverAddresses.size < 10_000) serverAddresses.set(origin, attrs);
  }
  return attrs;
}

/** Content on spans is bounded like everything else: at most this many characters per attribute. */
const MAX_CONTENT = 16 * 1024;

interface ExchangeState {
  span: Span;
  attempts: AttemptState[];
  /** provider type of the attempt that answered (for gen_ai.provider.name on the server span) */
  providerType?: string;
}

interface AttemptState {
  span: Span;
  open: boolean;
  answer?: string | Buffer;
  /** the published attempt (its success status is set on it when the upstream answers) */
  start: AttemptStart;
}

function bounded(text: string): string {
  // redact before cutting, so a secret is never cut in half where its pattern no longer matches
  const redacted = logRedactor().redact(
    text.length > 4 * MAX_CONTENT ? text.slice(0, 4 * MAX_CONTENT) : text,
  );
  return redacted.length > MAX_CONTENT ? `${redacted.slice(0, MAX_CONTENT)}…` : redacted;
}

function inputMessages(body: Record<string, unknown>): string | undefined {
  const input = body.messages ?? body.input ?? body.prompt;
  if (input === undefined) return undefined;
  const system = body.system === undefined ? [] : [{ role: 'system', content: body.system }];
  return JSON.stringify(Array.isArray(input) ? [...system, ...input] : input);
}

export function startOtelTracer(
  cfg: TracingConfig,
  headers: Record<string, string>,
  initial: TracingScope,
): RunningTracer {
  let scope = initial;
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: cfg.serviceName, ...cfg.resourceAttributes }),
    // new traces are sampled in onExchangeStart (before any span exists); a caller's traceparent decides
    // for its own trace, as W3C and the parent-based sampler say
    sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }),
    spanProcessors: [
      new BatchSpanProcessor({
        exporter: new OTLPTraceExporter({ url: cfg.endpoint, headers, timeoutMillis: cfg.exportTimeoutMs }),
        scheduledDelayMillis: 1_000,
        maxQueueSize: 8_192,
        maxExportBatchSize: 512,
      }),
    ],
  });
  const tracer: Tracer = provider.getTracer('sluice');
  const propagator = new W3CTraceContextPropagator();
  const linkOnly = cfg.clientTraceContext === 'link';

  const onExchangeStart = (message: unknown) => {
    const ex = message as Exchange;
    // A new trace that is not sampled records nothing and has nothing to propagate: decided here, before
    // any id, context or span is made, it costs a random number (most requests at a 10% ratio).
    // A malformed traceparent counts as none, so a client cannot force recording with garbage.
    const sent =
      ex.headers.traceparent === undefined
        ? ROOT_CONTEXT
        : propagator.extract(ROOT_CONTEXT, ex.headers, defaultTextMapGetter);
    const client = trace.getSpanContext(sent);
    if (client === undefined && !(Math.random() < cfg.samplingRatio)) return;
    // the client's sampled flag decides; with `link` an unsampled one records nothing (no parent would
    // carry its decision to the provider)
    if (linkOnly && client && (client.traceFlags & TraceFlags.SAMPLED) === 0) return;
    const span = tracer.startSpan(
      operation(ex.api),
      {
        kind: SpanKind.SERVER,
        startTime: ex.startedAt,
        ...(linkOnly && client ? { links: [{ context: client }] } : {}),
      },
      linkOnly ? ROOT_CONTEXT : sent,
    );
    // an unsampled span records nothing: skip building what it would drop (most requests at 10%)
    if (span.isRecording())
      span.setAttributes({
        'gen_ai.operation.name': operation(ex.api),
        [ATTR_HTTP_REQUEST_METHOD]: ex.method,
        [ATTR_URL_PATH]: ex.path,
        'sluice.request_id': ex.requestId,
      });
    const clientId = span.isRecording() ? clientRequestId(ex.headers) : undefined;
    if (clientId !== undefined) span.setAttribute('sluice.client_request_id', clientId);
    ex.observer = { span, attempts: [] } satisfies ExchangeState;
  };

  const onAttemptStart = (message: unknown) => {
    const at = message as AttemptStart;
    const ex = at.exchange.observer as ExchangeState | undefined;
    if (!ex) return;
    const parent = trace.setSpan(ROOT_CONTEXT, ex.span);
    const span = ex.span.isRecording()
      ? tracer.startSpan(`${operation(at.exchange.api)} ${at.model}`, { kind: SpanKind.CLIENT }, parent)
      : tracer.startSpan('attempt', { kind: SpanKind.CLIENT }, parent);
    if (span.isRecording())
      span.setAttributes({
        'gen_ai.operation.name': operation(at.exchange.api),
        'gen_ai.provider.name': PROVIDER_NAME[at.providerType] ?? at.providerType,
        'gen_ai.request.model': at.model,
        'sluice.provider': at.provider,
        'sluice.attempt.try': at.tryNumber,
        'sluice.attempt.candidate': at.index,
        'sluice.fallback': at.fallback,
        ...serverAttributes(at.origin),
      });
    // the provider continues this attempt's trace (the client's tracestate rides along)
    propagator.inject(trace.setSpan(ROOT_CONTEXT, span), at.headers, defaultTextMapSetter);
    const state: AttemptState = { span, open: true, start: at };
    at.observer = state;
    ex.attempts.push(state);
  };

  const onAttemptEnd = (message: unknown) => {
    const { attempt, end } = message as { attempt: AttemptStart; end: AttemptEnd };
    const state = attempt.observer as AttemptState | undefined;
    if (!state?.open) return;
    state.open = false;
    if (!state.span.isRecording()) return state.span.end();
    if (end.status !== undefined) state.span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, end.status);
    if (end.error) {
      state.span.setAttribute(
        ATTR_ERROR_TYPE,
        end.status !== undefined ? String(end.status) : end.error.code,
      );
      state.span.setAttribute('sluice.error.code', end.error.code);
      state.span.setStatus({ code: SpanStatusCode.ERROR, message: end.error.message });
    }
    state.span.end();
  };

  const onFirstToken = (message: unknown) => {
    const { attempt, at } = message as { attempt: AttemptStart; at: number };
    const state = attempt.observer as AttemptState | undefined;
    const ex = attempt.exchange.observer as ExchangeState | undefined;
    const ttft = { 'gen_ai.server.time_to_first_token': (at - attempt.exchange.startedAt) / 1000 };
    state?.span.addEvent('gen_ai.first_token', ttft, at);
    ex?.span.addEvent('gen_ai.first_token', ttft, at);
  };

  const onAnswer = (message: unknown) => {
    const { attempt, body } = message as { attempt: AttemptStart; body: string | Buffer };
    const state = attempt.observer as AttemptState | undefined;
    const ex = attempt.exchange.observer as ExchangeState | undefined;
    if (state) state.answer = body;
    if (ex) ex.providerType = attempt.providerType;
  };

  const onExchangeEnd = (message: unknown) => {
    const { exchange, end } = message as { exchange: Exchange | undefined; end: ExchangeEnd };
    // no exchange: tracing was not on when the request arrived (the end is published for metrics)
    const ex = exchange?.observer as ExchangeState | undefined;
    if (!exchange || !ex) return;
    if (!ex.span.isRecording()) {
      for (const a of ex.attempts) if (a.open) a.span.end();
      return ex.span.end();
    }
    const response: Attributes = {};
    if (end.responseModel) response['gen_ai.response.model'] = end.responseModel;
    if (end.usage) {
      response['gen_ai.usage.input_tokens'] = end.usage.inputTokens;
      response['gen_ai.usage.output_tokens'] = end.usage.outputTokens;
    }
    if (end.finishReason) response['gen_ai.response.finish_reasons'] = [end.finishReason];
    const recordContent = end.namespace !== undefined && scope.contentNamespaces.has(end.namespace);
    // the attempt that answered is still open: it ends with the answer
    for (const a of ex.attempts) {
      if (!a.open) continue;
      a.open = false;
      a.span.setAttributes(response);
      if (a.start.status !== undefined) a.span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, a.start.status);
      if (recordContent && a.answer !== undefined)
        a.span.setAttribute('gen_ai.output.messages', bounded(String(a.answer)));
      if (end.status >= 500) {
        a.span.setAttribute(ATTR_ERROR_TYPE, end.code);
        a.span.setStatus({ code: SpanStatusCode.ERROR, message: end.code });
      }
      a.span.end();
    }
    const s = ex.span;
    if (end.requestModel) {
      s.setAttribute('gen_ai.request.model', end.requestModel);
      s.updateName(`${operation(exchange.api)} ${end.requestModel}`);
    }
    s.setAttributes(response);
    s.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, end.status);
    s.setAttribute('sluice.attempts', ex.attempts.length);
    if (end.provider) s.setAttribute('sluice.provider', end.provider);
    if (ex.providerType)
      s.setAttribute('gen_ai.provider.name', PROVIDER_NAME[ex.providerType] ?? ex.providerType);
    if (end.route) s.setAttribute('sluice.route', end.route);
    if (end.namespace) s.setAttribute('sluice.namespace', end.namespace);
    if (end.stream !== undefined) s.setAttribute('sluice.stream', end.stream);
    if (end.cache) s.setAttribute('sluice.cache', end.cache);
    if (end.truncated) s.setAttribute('sluice.truncated', true);
    if (end.limit) s.setAttribute('sluice.limit', end.limit);
    if (recordContent && end.body) {
      const input = inputMessages(end.body);
      if (input !== undefined) s.setAttribute('gen_ai.input.messages', bounded(input));
    }
    if (end.code !== 'ok') {
      s.setAttribute(ATTR_ERROR_TYPE, end.code);
      // a server span is an error for 5xx only; a 4xx is the client's (semantic conventions for HTTP)
      if (end.status >= 500) s.setStatus({ code: SpanStatusCode.ERROR, message: end.code });
    }
    s.end();
  };

  const handlers: Array<[string, (m: unknown) => void]> = [
    [channels.exchangeStart.name as string, onExchangeStart],
    [channels.attemptStart.name as string, onAttemptStart],
    [channels.attemptEnd.name as string, onAttemptEnd],
    [channels.firstToken.name as string, onFirstToken],
    [channels.answered.name as string, onAnswer],
    [channels.exchangeEnd.name as string, onExchangeEnd],
  ];
  for (const [name, fn] of handlers) subscribe(name, fn);
  return {
    update(next) {
      scope = next;
    },
    async stop() {
      for (const [name, fn] of handlers) unsubscribe(name, fn);
      await provider.shutdown();
    },
  };
}
