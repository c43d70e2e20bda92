// One API request end to end: validate -> identify -> route -> authorize -> admit (limits) -> cache ->
// attempts (balance, retry, fallback) -> translate the response (whole or streamed) -> account.
// Nothing here knows a provider's name or wire format: translators and the gate carry all of that.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { ClientApiSpec, ClientRequest } from '../api/types.ts';
import { GatewayError, isGatewayError } from '../errors.ts';
import { metrics } from '../observability/metrics.ts';
import type { Usage } from '../providers/types.ts';
import type { Runtime } from '../runtime/compile.ts';
import type { CompiledRoute } from '../runtime/route.ts';
import { countPromptTokens, type EncodingName, encodingForModel } from '../tokens/counter.ts';
import { type Attempt, type AttemptState, readBounded, runAttempts } from './attempts.ts';
import { upstreamModel } from './balancer.ts';
import type { Admission, Identity } from './gate.ts';
import { pumpStream, readFirstEvents } from './stream.ts';
import { upstreamFailure } from './transport.ts';

export interface RequestOutcome {
  route?: string;
  namespace?: string;
  provider?: string;
  model?: string;
  usage?: Usage;
  cache?: 'hit' | 'miss';
  truncated?: boolean;
}

function headerGetter(req: FastifyRequest): (name: string) => string | undefined {
  return (name) => {
    const v = req.headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
}

export function findRoute(
  runtime: Runtime,
  model: string,
  path: string,
  get: (n: string) => string | undefined,
): CompiledRoute {
  for (const r of runtime.routes) {
    if (r.matchesPath(path) && r.matchesModel(model) && r.matchesHeaders(get)) return r;
  }
  throw new GatewayError('SLUICE_ERR_UNKNOWN_MODEL', `model '${model}' is not served by any route`, {
    param: 'model',
  });
}

function encodingFor(route: CompiledRoute, model: string): EncodingName {
  const first = route.balancer.backends[0];
  if (!first) return encodingForModel(model);
  const up = upstreamModel(first, model);
  return encodingForModel(up, first.provider.modelConfig(up)?.tokenizer);
}

export async function handleApi(
  req: FastifyRequest,
  reply: FastifyReply,
  spec: ClientApiSpec,
  runtime: Runtime,
  log: Logger,
): Promise<void> {
  const started = performance.now();
  const outcome: RequestOutcome = {};
  const clientGone = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) clientGone.abort(new Error('client closed the connection'));
  });
  let admission: Admission | undefined;
  let identity: Identity | undefined;
  let status = 200;
  let code = 'ok';
  try {
    const request = spec.parse(req.body);
    identity = await runtime.gate.identify(req.headers);
    outcome.namespace = identity.namespace;
    const route = findRoute(
      runtime,
      request.model,
      req.routeOptions.url === '/*' ? (req.url.split('?')[0] ?? '') : spec.path,
      headerGetter(req),
    );
    outcome.route = route.name;
    runtime.gate.authorize(identity, route, request.model);
    const encoding = encodingFor(route, request.model);
    let inputTokens: number | undefined;
    let promptText: string | undefined;
    const getPrompt = () => (promptText ??= spec.promptText(request.body));
    const getInputTokens = () =>
      (inputTokens ??= countPromptTokens(getPrompt(), spec.turns(request.body), encoding));
    admission = completeOnce(
      await runtime.gate.admit({
        identity,
        route,
        spec,
        request,
        inputTokens: getInputTokens,
        promptText: getPrompt,
      }),
    );
    for (const [k, v] of Object.entries(admission.headers)) reply.header(k, v);

    if (admission.cacheKey && runtime.gate.cacheGet) {
      const hit = await runtime.gate.cacheGet(admission.cacheKey);
      metrics.cache.inc({ namespace: identity.namespace, result: hit ? 'hit' : 'miss' });
      outcome.cache = hit ? 'hit' : 'miss';
      reply.header('x-cache', outcome.cache);
      if (hit) {
        outcome.model = request.model;
        admission.complete(undefined, {
          provider: 'cache',
          model: request.model,
          cached: true,
          truncated: false,
        });
        reply.header('content-type', 'application/json').send(hit);
        return;
      }
    }

    const candidates = route.balancer
      .order({
        model: request.model,
        promptText: getPrompt,
        turns: spec.turns(request.body),
        inputTokens: getInputTokens,
        maxOutputTokens: spec.getMaxOutputTokens(request.body),
      })
      .concat(route.fallback);
    const state: AttemptState = { tries: 0 };
    const base = {
      requestId: String(req.id),
      spec,
      request,
      route,
      candidates,
      signal: clientGone.signal,
      state,
    };
    let attempt = await runAttempts(base);

    if (!request.stream) {
      await respondWhole(attempt, reply, runtime, admission, getInputTokens, outcome);
      return;
    }
    // Streaming: fall back only while no byte has reached the client.
    for (;;) {
      const st = attempt.translator.createStream(attempt.tctx);
      const iterator = attempt.response.body[Symbol.asyncIterator]();
      try {
        const first = await readFirstEvents(st, iterator);
        await respondStream(
          attempt,
          st,
          iterator,
          first,
          req,
          reply,
          runtime,
          admission,
          getInputTokens,
          encoding,
          clientGone.signal,
          started,
          outcome,
        );
        return;
      } catch (err) {
        if (clientGone.signal.aborted) throw err;
        attempt.controller.abort();
        attempt.release('failure');
        state.lastError = upstreamFailure(err, attempt.backend.provider.name, attempt.timeouts);
        attempt = await runAttempts({ ...base, start: attempt.index + 1 });
      }
    }
  } catch (err) {
    const gwErr = isGatewayError(err)
      ? err
      : clientGone.signal.aborted
        ? new GatewayError('SLUICE_ERR_INVALID_REQUEST', 'client closed the connection')
        : new GatewayError('SLUICE_ERR_INTERNAL', `internal error (request ${req.id})`, { cause: err });
    if (gwErr.code === 'SLUICE_ERR_INTERNAL')
      log.error({ err, reqId: req.id }, 'unhandled error in request pipeline');
    status = gwErr.status;
    code = gwErr.code;
    if (gwErr.code === 'SLUICE_ERR_RATE_LIMITED') {
      metrics.limitRejections.inc({
        namespace: identity?.namespace ?? 'unknown',
        limit: gwErr.param ?? 'unknown',
      });
    }
    admission?.complete(undefined, undefined);
    if (!reply.sent && !reply.raw.headersSent) {
      if (gwErr.headers) for (const [k, v] of Object.entries(gwErr.headers)) reply.header(k, v);
      reply.code(gwErr.status).header('content-type', 'application/json').send(spec.errorBody(gwErr));
    }
  } finally {
    if (reply.statusCode >= 400 && status === 200) status = reply.statusCode;
    const seconds = (performance.now() - started) / 1000;
    metrics.requests.inc({
      route: outcome.route ?? 'none',
      namespace: outcome.namespace ?? 'none',
      api: spec.api,
      status: String(status),
      code,
    });
    metrics.requestDuration.observe(
      {
        gen_ai_operation_name: spec.api,
        gen_ai_provider_name: outcome.provider ?? 'none',
        gen_ai_request_model: outcome.route ? (outcome.model ?? 'none') : 'none',
        route: outcome.route ?? 'none',
        error_type: code === 'ok' ? '' : code,
      },
      seconds,
    );
    log.info(
      {
        reqId: req.id,
        namespace: outcome.namespace,
        route: outcome.route,
        model: outcome.model,
        provider: outcome.provider,
        status,
        code,
        inputTokens: outcome.usage?.inputTokens,
        outputTokens: outcome.usage?.outputTokens,
        cache: outcome.cache,
        truncated: outcome.truncated,
        ms: Math.round(seconds * 1000),
      },
      'request',
    );
  }
}

function recordUsage(runtime: Runtime, attempt: Attempt, namespace: string, usage: Usage): void {
  const provider = attempt.backend.provider.name;
  const model = attempt.tctx.upstreamModel;
  const labels = { namespace, model, provider };
  metrics.tokens.inc({ ...labels, type: 'input' }, usage.inputTokens);
  metrics.tokens.inc({ ...labels, type: 'output' }, usage.outputTokens);
  if (usage.cachedInputTokens)
    metrics.tokens.inc({ ...labels, type: 'cached_input' }, usage.cachedInputTokens);
  const common = {
    gen_ai_operation_name: attempt.tctx.clientApi,
    gen_ai_provider_name: provider,
    gen_ai_request_model: model,
    namespace,
  };
  metrics.tokenUsage.observe({ ...common, gen_ai_token_type: 'input' }, usage.inputTokens);
  metrics.tokenUsage.observe({ ...common, gen_ai_token_type: 'output' }, usage.outputTokens);
  const price = attempt.backend.provider.modelConfig(model)?.pricing;
  if (price) {
    const cached = usage.cachedInputTokens ?? 0;
    const cost =
      ((usage.inputTokens - cached) * price.inputPerMTok +
        cached * (price.cachedInputPerMTok ?? price.inputPerMTok) +
        usage.outputTokens * price.outputPerMTok) /
      1e6;
    metrics.costUsd.inc(labels, cost);
  }
  void runtime;
}

async function respondWhole(
  attempt: Attempt,
  reply: FastifyReply,
  runtime: Runtime,
  admission: Admission,
  inputTokens: () => number,
  outcome: RequestOutcome,
): Promise<void> {
  const limit = runtime.config.server.maxResponseBytes;
  let body: Buffer;
  try {
    body = await readBounded(attempt.response.body, limit + 1);
  } catch (err) {
    attempt.release('failure');
    throw upstreamFailure(err, attempt.backend.provider.name, attempt.timeouts);
  }
  if (body.length > limit) {
    attempt.release('neutral');
    throw new GatewayError(
      'SLUICE_ERR_RESPONSE_TOO_LARGE',
      `provider '${attempt.backend.provider.name}' response exceeds ${limit} bytes`,
    );
  }
  let translated: ReturnType<Attempt['translator']['parseResponse']>;
  try {
    translated = attempt.translator.parseResponse(body, attempt.tctx);
  } catch (err) {
    attempt.release('failure');
    throw err;
  }
  attempt.release('ok');
  attempt.backend.provider.observeLatency(attempt.tctx.upstreamModel, performance.now() - attempt.startedAt);
  const usage = translated.usage ?? { inputTokens: inputTokens(), outputTokens: 0, estimated: true };
  outcome.provider = attempt.backend.provider.name;
  outcome.model = attempt.tctx.upstreamModel;
  outcome.usage = usage;
  recordUsage(runtime, attempt, outcome.namespace ?? 'none', usage);
  admission.complete(usage, {
    provider: outcome.provider,
    model: outcome.model,
    cached: false,
    truncated: false,
  });
  if (admission.cacheKey && runtime.gate.cacheSet)
    await runtime.gate.cacheSet(admission.cacheKey, translated.body);
  reply
    .header('x-sluice-provider', outcome.provider)
    .header('content-type', 'application/json')
    .send(translated.body);
}

async function respondStream(
  attempt: Attempt,
  st: ReturnType<Attempt['translator']['createStream']>,
  iterator: AsyncIterator<Buffer>,
  first: { events: import('../providers/types.ts').StreamEvent[]; ended: boolean },
  req: FastifyRequest,
  reply: FastifyReply,
  runtime: Runtime,
  admission: Admission,
  inputTokens: () => number,
  encoding: EncodingName,
  clientGone: AbortSignal,
  started: number,
  outcome: RequestOutcome,
): Promise<void> {
  outcome.provider = attempt.backend.provider.name;
  outcome.model = attempt.tctx.upstreamModel;
  reply.hijack();
  const res = reply.raw;
  const headers: Record<string, string> = {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'x-accel-buffering': 'no',
    'x-request-id': String(req.id),
    'x-sluice-provider': outcome.provider,
    ...admission.headers,
  };
  res.writeHead(200, headers);
  const result = await pumpStream(
    {
      res,
      translator: st,
      upstream: attempt.response,
      pending: first.events,
      inputTokens,
      encoding,
      outputCap: admission.outputCap,
      allowOutput: admission.allowOutput,
      abortUpstream: () => attempt.controller.abort(),
      clientGone,
      mapError: (err) => upstreamFailure(err, attempt.backend.provider.name, attempt.timeouts),
      onFirstByte: () =>
        metrics.timeToFirstToken.observe(
          {
            gen_ai_operation_name: attempt.tctx.clientApi,
            gen_ai_provider_name: attempt.backend.provider.name,
            gen_ai_request_model: attempt.tctx.upstreamModel,
            route: outcome.route ?? 'none',
          },
          (performance.now() - started) / 1000,
        ),
    },
    iterator,
    first.ended,
  );
  attempt.release(result.outcome === 'error' ? 'failure' : result.outcome === 'complete' ? 'ok' : 'neutral');
  if (result.outcome === 'complete') {
    attempt.backend.provider.observeLatency(
      attempt.tctx.upstreamModel,
      performance.now() - attempt.startedAt,
    );
  }
  outcome.usage = result.usage;
  outcome.truncated = result.outcome === 'truncated';
  if (outcome.truncated)
    metrics.streamsTruncated.inc({ namespace: outcome.namespace ?? 'none', reason: 'output_cap' });
  recordUsage(runtime, attempt, outcome.namespace ?? 'none', result.usage);
  admission.complete(result.usage, {
    provider: outcome.provider,
    model: outcome.model,
    cached: false,
    truncated: outcome.truncated,
  });
  res.end();
  if (result.error) throw result.error;
}

/** Admission.complete must run exactly once, whichever path ends the request. */
function completeOnce(a: Admission): Admission {
  let done = false;
  return {
    ...a,
    complete(usage, completion) {
      if (done) return;
      done = true;
      a.complete(usage, completion);
    },
  };
}

export type { ClientRequest };
