// One API request end to end: validate -> identify -> route -> authorize -> admit (limits) -> cache ->
// attempts (balance, retry, fallback) -> translate the response (whole or streamed) -> account.
// Nothing here knows a provider's name or wire format: translators and the gate carry all of that.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { checkBodyDepth, checkModelName } from '../api/request_guards.ts';
import type { ClientAnswer, ClientApiSpec, ClientRequest } from '../api/types.ts';
import type { Runtime } from '../compiled/compile.ts';
import type { CompiledRoute } from '../compiled/route.ts';
import { GatewayError, isGatewayError } from '../errors.ts';
import { accessWriter } from '../observability/access_log.ts';
import { endAttempt, endExchange, startExchange } from '../observability/lifecycle.ts';
import { metrics } from '../observability/metrics.ts';
import { modelLabel } from '../observability/model_labels.ts';
import type { Usage } from '../providers/types.ts';
import { promptTokensWithoutBlocking } from '../tokens/counter.ts';
import { type Attempt, type AttemptState, runAttempts } from './attempts.ts';
import { incomingHops } from './hops.ts';
import { callerOf } from './intake.ts';
import type { Admission, Identity } from './policy_interface.ts';
import { respondStream, respondWhole } from './respond.ts';
import { encodingForRoute } from './route_encoding.ts';
import { readFirstEvents } from './stream.ts';
import { upstreamFailure } from './transport.ts';

export interface RequestOutcome {
  /** set when a streamed answer failed after its first byte (the HTTP status was already 200) */
  status?: number;
  code?: string;
  route?: string;
  namespace?: string;
  provider?: string;
  model?: string;
  usage?: Usage;
  cache?: 'hit' | 'miss';
  truncated?: boolean;
  finishReason?: string;
  /** the parsed request and the limit that refused it, for observers (observability/lifecycle.ts) */
  request?: ClientRequest;
  limit?: string;
}

function headerGetter(req: FastifyRequest): (name: string) => string | undefined {
  return (name) => {
    const v = req.headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
}

/**
 * The first route that matches the request and that the caller's namespace may use. When routes
 * match but none is allowed, the first match is returned so authorize() answers 403 (not 400): two
 * tenants whose routes match the same model each get their own route.
 */
export function findRoute(
  runtime: Runtime,
  model: string,
  path: string,
  get: (n: string) => string | undefined,
  identity: Identity,
): CompiledRoute {
  let forbidden: CompiledRoute | undefined;
  for (const r of runtime.routes) {
    if (!(r.matchesPath(path) && r.matchesModel(model) && r.matchesHeaders(get))) continue;
    if (runtime.gate.visibleModel(identity, r, model)) return r;
    forbidden ??= r;
  }
  if (forbidden) return forbidden;
  // 404 model_not_found, as OpenAI answers (SDKs map it to NotFoundError; clients check the code)
  throw new GatewayError(
    'SLUICE_ERR_UNKNOWN_MODEL',
    `The model \`${model}\` does not exist or you do not have access to it.`,
    { param: 'model' },
  );
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
  // undefined unless an observer (tracing) listens: then nothing below publishes anything
  const exchange = startExchange(String(req.id), spec.api, req.method, req.url, req.headers);
  const clientGone = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) clientGone.abort(new Error('client closed the connection'));
  });
  let admission: Admission | undefined;
  let identity: Identity | undefined;
  // the attempt holding a provider slot, so every way out of this function gives it back
  let holding: Attempt | undefined;
  let status = 200;
  let code = 'ok';
  try {
    const hops = incomingHops(req.headers);
    // bounds first: nothing below walks a deep body or matches a long model name
    checkBodyDepth(req.body);
    const request = spec.parse(req.body);
    if (spec.forwardHeaders) request.forward = forwardedHeaders(req, spec.forwardHeaders);
    checkModelName(request.model);
    if (exchange) outcome.request = request;
    // identified from the headers before the body was read (proxy/intake.ts)
    identity = await callerOf(req, runtime);
    outcome.namespace = identity.namespace;
    const route = findRoute(
      runtime,
      request.model,
      req.routeOptions.url === '/*' ? (req.url.split('?')[0] ?? '') : spec.path,
      headerGetter(req),
      identity,
    );
    outcome.route = route.name;
    runtime.gate.authorize(identity, route, request.model);
    const scope = { namespace: identity.namespace, runtime };
    // e.g. a Responses API conversation expanded from the state store: limits then count all of it
    if (spec.prepare) await spec.prepare(request, scope);
    const onAnswer = spec.completed
      ? (answer: ClientAnswer) =>
          (spec.completed as NonNullable<ClientApiSpec['completed']>)(request, answer, scope).catch((err) =>
            log.warn({ err, reqId: req.id }, 'answer delivered but its completion step failed'),
          )
      : undefined;
    const encoding = encodingForRoute(route, request.model);
    const turns = spec.turns(request.body);
    let inputTokens: number | undefined;
    let promptText: string | undefined;
    const getPrompt = () => (promptText ??= spec.promptText(request.body));
    // exact once admission counted it (on the pool, for large prompts); never tokenized inline when large
    const getInputTokens = () => (inputTokens ??= promptTokensWithoutBlocking(getPrompt(), turns, encoding));
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
        turns,
        inputTokens: getInputTokens,
        maxOutputTokens: spec.getMaxOutputTokens(request.body),
      })
      .concat(route.fallback);
    const state: AttemptState = { tries: 0 };
    const base = {
      requestId: String(req.id),
      hops,
      spec,
      request,
      route,
      candidates,
      signal: clientGone.signal,
      state,
      exchange,
    };
    let attempt = await runAttempts(base);
    holding = attempt;

    if (!request.stream) {
      await respondWhole(attempt, reply, runtime, admission, getInputTokens, outcome, onAnswer);
      return;
    }
    // Streaming: fall back only while no byte has reached the client. Only failures while reading
    // the first events are retried here; once respondStream has written, the stream owns the ending.
    for (;;) {
      const st = attempt.translator.createStream(attempt.tctx);
      const iterator = attempt.response.body[Symbol.asyncIterator]();
      let first: Awaited<ReturnType<typeof readFirstEvents>>;
      try {
        first = await readFirstEvents(st, iterator);
      } catch (err) {
        if (clientGone.signal.aborted) throw err;
        attempt.controller.abort();
        attempt.release('failure');
        state.lastError = upstreamFailure(err, attempt.backend.provider.name, attempt.timeouts);
        endAttempt(attempt.observed, { error: state.lastError });
        attempt = await runAttempts({ ...base, start: attempt.index + 1 });
        holding = attempt;
        continue;
      }
      await respondStream({
        attempt,
        translator: st,
        iterator,
        first,
        req,
        reply,
        admission,
        inputTokens: getInputTokens,
        encoding,
        clientGone: clientGone.signal,
        started,
        outcome,
        exposeProvider: runtime.config.server.exposeProvider,
        redactor: runtime.redactor,
        onAnswer,
      });
      return;
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
      outcome.limit = gwErr.param ?? 'unknown';
      metrics.limitRejections.inc({
        namespace: identity?.namespace ?? 'unknown',
        limit: gwErr.param ?? 'unknown',
      });
    }
    // release() is idempotent: a no-op when the answer already released it
    holding?.release('neutral');
    admission?.complete(undefined, undefined);
    // what the client (and the debug log) sees: secrets and key-shaped tokens removed
    const shown = runtime.redactor.scrubError(gwErr);
    if (shown.upstream)
      log.debug({ reqId: req.id, upstream: shown.upstream, message: shown.message }, 'upstream error');
    if (!reply.sent && !reply.raw.headersSent) {
      // shown.headers carry x-sluice-error-code (Sluice's own code) and the upstream's Retry-After
      for (const [k, v] of Object.entries(shown.headers)) reply.header(k, v);
      reply.code(shown.status).header('content-type', 'application/json').send(spec.errorBody(shown));
    } else if (!reply.raw.writableEnded) {
      // a throw after a stream's headers went out (the pump ends its own failures): cut the
      // connection so the client sees an incomplete answer instead of waiting for one forever
      reply.raw.destroy();
    }
  } finally {
    if (outcome.code) {
      status = outcome.status ?? status;
      code = outcome.code;
    }
    if (reply.statusCode >= 400 && status === 200) status = reply.statusCode;
    const seconds = (performance.now() - started) / 1000;
    metrics.requests.inc(
      1,
      outcome.route ?? 'none',
      outcome.namespace ?? 'none',
      spec.api,
      String(status),
      code,
    );
    metrics.requestDuration.observe(
      seconds,
      spec.api,
      outcome.provider ?? 'none',
      outcome.route && outcome.model ? modelLabel(outcome.model) : 'none',
      outcome.route ?? 'none',
      code === 'ok' ? '' : code,
    );
    accessWriter(log)({
      reqId: String(req.id),
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
    });
    if (exchange) endExchange(exchange, exchangeEnd(status, code, outcome));
  }
}

function exchangeEnd(status: number, code: string, outcome: RequestOutcome) {
  const { request, route, namespace, provider, model, usage, cache, truncated, limit } = outcome;
  return {
    status,
    code,
    requestModel: request?.model,
    stream: request?.stream,
    body: request?.body,
    route,
    namespace,
    provider,
    responseModel: model,
    usage,
    finishReason: truncated ? 'length' : outcome.finishReason,
    cache,
    truncated,
    limit,
  };
}

/** The client headers a client API passes on to its backends (bounded: a header is at most 1 KiB). */
function forwardedHeaders(req: FastifyRequest, names: readonly string[]): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  let any = false;
  for (const n of names) {
    const v = req.headers[n];
    const value = Array.isArray(v) ? v.join(',') : v;
    if (value && value.length <= 1024) {
      out[n] = value;
      any = true;
    }
  }
  return any ? out : undefined;
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
