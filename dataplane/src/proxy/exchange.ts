// One API request end to end, owned by one object: the Exchange. handleApi reads as the request
// path: parse -> identify -> route -> authorize -> admit -> answer (from the cache, or through
// attempts: balance, retry, fallback, then the whole or streamed answer). The exchange owns the
// admission (completed exactly once, by complete()) and the attempt currently holding a provider slot
// (ended on every way out); the attempt (attempt.ts) owns its slot. Metrics, the access log, cost and
// traces are observers of the exchange's lifecycle events (observability/request_observer.ts,
// tracing_otel.ts): nothing here calls them. The one exception is the in-flight gauge, a level counted
// up and down around handleApi (here rather than in a wrapper, which cost a promise per request). Nothing here knows a provider's name or wire format:
// translators and the gate carry all of that.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { checkModelName } from '../api/request_guards.ts';
import type { ClientAnswer, ClientApiSpec, ClientRequest } from '../api/types.ts';
import type { Runtime } from '../compiled/compile.ts';
import type { CompiledRoute } from '../compiled/route.ts';
import type { Pricing } from '../config/schema.ts';
import { GatewayError, isGatewayError } from '../errors.ts';
import { accessWriter } from '../observability/access_log.ts';
import {
  endExchange,
  exchangeEndObserved,
  type Exchange as ObservedExchange,
  startExchange,
} from '../observability/lifecycle.ts';
import { metrics } from '../observability/metrics.ts';
import type { Usage } from '../providers/types.ts';
import type { EncodingName } from '../tokens/counter.ts';
import { promptTokensWithoutBlocking } from '../tokens/counter.ts';
import { answerStream } from './answer_stream.ts';
import { answerWhole } from './answer_whole.ts';
import type { Attempt } from './attempt.ts';
import { type AttemptInput, runAttempts } from './attempt_loop.ts';
import { Cancellation } from './cancellation.ts';
import { forwardedHeaders, headerGetter } from './client_headers.ts';
import { findRoute } from './find_route.ts';
import { incomingHops } from './hops.ts';
import { intakeOf } from './intake.ts';
import type { Admission, Completion, Identity } from './policy_interface.ts';
import { clientRequestId } from './request_id.ts';
import { encodingForRoute } from './route_encoding.ts';
import { readFirstEvents } from './stream.ts';

/** What the answer writers learn about the request's result; published when the exchange ends. */
export interface RequestOutcome {
  /** set when a streamed answer failed after its first byte (the HTTP status was already 200) */
  status?: number;
  code?: string;
  provider?: string;
  model?: string;
  pricing?: Pricing | undefined;
  usage?: Usage;
  cache?: 'hit' | 'miss';
  truncated?: boolean;
  truncatedBy?: 'output_cap' | 'budget';
  finishReason?: string;
  /** the limit that refused the request */
  limit?: string;
}

export async function handleApi(
  req: FastifyRequest,
  reply: FastifyReply,
  spec: ClientApiSpec,
  runtime: Runtime,
  log: Logger,
): Promise<void> {
  metrics.inflight.inc();
  const exchange = new Exchange(req, reply, spec, runtime, log);
  try {
    exchange.parse();
    // identified by the intake already (every POST): no promise to wait for
    const identifying = exchange.identify();
    if (identifying) await identifying;
    exchange.route();
    exchange.authorize();
    // a gate that decides at once (no limits to ask a store about): no promise to wait for
    const admitting = exchange.admit();
    if (admitting) await admitting;
    await exchange.answer();
  } catch (err) {
    exchange.fail(err);
  } finally {
    exchange.end();
    metrics.inflight.dec();
  }
}

export class Exchange {
  readonly req: FastifyRequest;
  readonly reply: FastifyReply;
  readonly spec: ClientApiSpec;
  readonly runtime: Runtime;
  readonly log: Logger;
  readonly started = performance.now();
  /** aborted when the client goes away before its answer was written */
  readonly clientGone = new Cancellation();
  readonly outcome: RequestOutcome = {};
  /** the exchange as tracing follows it (undefined when no observer followed its start) */
  readonly observed: ObservedExchange | undefined;
  request: ClientRequest | undefined;
  identity: Identity | undefined;
  #route: CompiledRoute | undefined;
  #admission: Admission | undefined;
  #completed = false;
  /** the attempt holding a provider slot: every way out of the exchange ends it */
  #attempt: Attempt | undefined;
  #status = 200;
  #code = 'ok';
  #inputTokens: number | undefined;
  #promptText: string | undefined;
  /** the encoding the route's model is counted with */
  encoding: EncodingName = 'o200k_base';
  /** the client API's completion step (e.g. storing a Responses API answer), before the answer is sent */
  onAnswer: ((answer: ClientAnswer) => Promise<void>) | undefined;

  constructor(req: FastifyRequest, reply: FastifyReply, spec: ClientApiSpec, runtime: Runtime, log: Logger) {
    this.req = req;
    this.reply = reply;
    this.spec = spec;
    this.runtime = runtime;
    this.log = log;
    this.observed = startExchange(String(req.id), spec.api, req.method, req.url, req.headers);
    // on, not once: a response closes once, and once() wraps every listener in two more objects
    reply.raw.on('close', () => {
      if (!reply.raw.writableFinished) this.clientGone.abort(new Error('client closed the connection'));
    });
  }

  get admission(): Admission {
    return this.#admission as Admission;
  }

  /** The request's input tokens: exact once admission counted them; large prompts never inline. */
  readonly inputTokens = (): number =>
    (this.#inputTokens ??= promptTokensWithoutBlocking(
      this.promptText(),
      this.spec.turns((this.request as ClientRequest).body),
      this.encoding,
    ));

  readonly promptText = (): string =>
    (this.#promptText ??= this.spec.promptText((this.request as ClientRequest).body));

  /** The client API's own validation, then the model name's bounds (the depth was checked on the text, intake.ts). */
  parse(): void {
    const request = this.spec.parse(this.req.body);
    if (this.spec.forwardHeaders) request.forward = forwardedHeaders(this.req, this.spec.forwardHeaders);
    checkModelName(request.model);
    this.request = request;
  }

  /**
   * Who is calling: identified from the headers before the body was read (intake.ts), else by the
   * gate now; a promise only for a JWT check or a refusal.
   */
  identify(): Promise<void> | undefined {
    const identity = intakeOf(this.req)?.identity ?? this.runtime.gate.identify(this.req.headers);
    if (!(identity instanceof Promise)) {
      this.identity = identity;
      return undefined;
    }
    return identity.then((known) => {
      this.identity = known;
    });
  }

  route(): void {
    const { req, spec } = this;
    const request = this.request as ClientRequest;
    const path = req.routeOptions.url === '/*' ? (req.url.split('?')[0] ?? '') : spec.path;
    this.#route = findRoute(this.runtime, request.model, path, headerGetter(req), this.identity as Identity);
    this.encoding = encodingForRoute(this.#route, request.model);
  }

  authorize(): void {
    this.runtime.gate.authorize(this.identity as Identity, this.#route as CompiledRoute, this.model);
  }

  get model(): string {
    return (this.request as ClientRequest).model;
  }

  get routeName(): string | undefined {
    return this.#route?.name;
  }

  /**
   * The client API's preparation (e.g. a conversation expanded from state), then the limits. A
   * promise only when something has to be waited for (a state store, a limits store).
   */
  admit(): Promise<void> | undefined {
    const { spec, runtime } = this;
    const request = this.request as ClientRequest;
    const identity = this.identity as Identity;
    const scope = { namespace: identity.namespace, runtime };
    const completed = spec.completed;
    if (completed)
      this.onAnswer = (answer) =>
        completed(request, answer, scope).catch((err) =>
          this.log.warn({ err, reqId: this.req.id }, 'answer delivered but its completion step failed'),
        );
    // e.g. a Responses API conversation expanded from the state store: limits then count all of it
    if (spec.prepare) return spec.prepare(request, scope).then(() => this.#admitted());
    return this.#admitted();
  }

  #admitted(): Promise<void> | undefined {
    const admission = this.runtime.gate.admit({
      identity: this.identity as Identity,
      route: this.#route as CompiledRoute,
      spec: this.spec,
      request: this.request as ClientRequest,
      encoding: this.encoding,
      inputTokens: this.inputTokens,
      promptText: this.promptText,
    });
    if (!(admission instanceof Promise)) return this.#admit(admission);
    return admission.then((a) => this.#admit(a));
  }

  #admit(admission: Admission): undefined {
    this.#admission = admission;
    for (const k in admission.headers) this.reply.header(k, admission.headers[k]);
    return undefined;
  }

  /**
   * Reconcile the admission with what was used: exactly once per admitted request, whichever path
   * ends it (an answer, a cache hit, a failure, the client leaving).
   */
  complete(usage: Usage | undefined, completion: Completion | undefined): void {
    if (this.#completed || !this.#admission) return;
    this.#completed = true;
    this.#admission.complete(usage, completion);
  }

  /** From the response cache, or from an upstream through the attempts. */
  async answer(): Promise<void> {
    // no cache key (most requests): no lookup and no promise for one
    const { cacheKey } = this.admission;
    if (cacheKey && this.runtime.gate.cacheGet && (await this.#answerFromCache(cacheKey))) return;
    const route = this.#route as CompiledRoute;
    const request = this.request as ClientRequest;
    // one tenant has nobody to share with: its turns are not capped (proxy/concurrency.ts), and its
    // retry budget and latency averages are the route's own
    const tenant = this.runtime.config.namespaces.length > 1 ? (this.identity as Identity).namespace : '';
    const ordered = route.balancer.order({
      tenant,
      model: request.model,
      promptText: this.promptText,
      turns: this.spec.turns(request.body),
      inputTokens: this.inputTokens,
      maxOutputTokens: this.spec.getMaxOutputTokens(request.body),
    });
    const input: AttemptInput = {
      requestId: String(this.req.id),
      tenant,
      hops: incomingHops(this.req.headers),
      spec: this.spec,
      request,
      route,
      // read only: with no fallback chain, the balancer's own list is used as it is
      candidates: route.fallback.length === 0 ? ordered : ordered.concat(route.fallback),
      signal: this.clientGone.signal,
      state: { tries: 0 },
      observed: this.observed,
    };
    let attempt = await runAttempts(input);
    this.#attempt = attempt;
    if (!request.stream) return answerWhole(this, attempt);
    // Streaming: fall back only while no byte has reached the client. Only failures while reading
    // the first events are retried here; once answerStream has written, the stream owns the ending.
    for (;;) {
      const translator = attempt.translator.createStream(attempt.tctx);
      const iterator = attempt.upstreamBody;
      let first: Awaited<ReturnType<typeof readFirstEvents>>;
      try {
        first = await readFirstEvents(translator, iterator);
      } catch (err) {
        if (this.clientGone.signal.aborted) throw err;
        attempt.abort();
        const failure = attempt.failure(err);
        attempt.end('failure', { error: failure });
        input.state.lastError = failure;
        attempt = await runAttempts(input, attempt.index + 1);
        this.#attempt = attempt;
        continue;
      }
      return answerStream(this, attempt, translator, iterator, first);
    }
  }

  /** Only with a cache key and a gate that caches (answer() checks both). */
  async #answerFromCache(cacheKey: string): Promise<boolean> {
    const hit = await this.runtime.gate.cacheGet!(cacheKey);
    this.outcome.cache = hit ? 'hit' : 'miss';
    this.reply.header('x-cache', this.outcome.cache);
    if (!hit) return false;
    this.outcome.model = this.model;
    this.complete(undefined, { provider: 'cache', model: this.model, cached: true, truncated: false });
    this.reply.header('content-type', 'application/json').send(hit);
    return true;
  }

  /** Any failure before the answer was complete: the client gets the error in its API's shape. */
  fail(err: unknown): void {
    const { req, reply, runtime, log } = this;
    const gwErr = isGatewayError(err)
      ? err
      : this.clientGone.signal.aborted
        ? new GatewayError('SLUICE_ERR_INVALID_REQUEST', 'client closed the connection')
        : new GatewayError('SLUICE_ERR_INTERNAL', `internal error (request ${req.id})`, { cause: err });
    if (gwErr.code === 'SLUICE_ERR_INTERNAL')
      log.error({ err, reqId: req.id }, 'unhandled error in request pipeline');
    this.#status = gwErr.status;
    this.#code = gwErr.code;
    if (gwErr.code === 'SLUICE_ERR_RATE_LIMITED') this.outcome.limit = gwErr.param ?? 'unknown';
    // Refused before its admission: a request all the same, charged to the caller's request rates
    // (the gate decides which refusals count). The intake identified the caller before the body, so
    // this holds also when parse() refused the request before identify() ran.
    const caller = this.identity ?? intakeOf(req)?.identity;
    if (caller && !this.#admission && !this.clientGone.signal.aborted)
      runtime.gate.chargeRefused?.(caller, gwErr.status, gwErr.param);
    // no-ops when the answer already ended the attempt and completed the admission
    this.#attempt?.end('neutral');
    this.complete(undefined, undefined);
    // what the client (and the debug log) sees: secrets and key-shaped tokens removed
    const shown = runtime.redactor.scrubError(gwErr);
    if (shown.upstream)
      log.debug({ reqId: req.id, upstream: shown.upstream, message: shown.message }, 'upstream error');
    if (!reply.sent && !reply.raw.headersSent) {
      // shown.headers carry x-sluice-error-code (Sluice's own code) and the upstream's Retry-After
      for (const k in shown.headers) reply.header(k, shown.headers[k]);
      reply.code(shown.status).header('content-type', 'application/json').send(this.spec.errorBody(shown));
    } else if (!reply.raw.writableEnded) {
      // a throw after a stream's headers went out (the pump ends its own failures): cut the
      // connection so the client sees an incomplete answer instead of waiting for one forever
      reply.raw.destroy();
    }
  }

  /** Publish how the exchange ended; observers turn it into metrics, the access line and spans. */
  end(): void {
    // a safety net: every path above already ended them (the lifecycle tests check that)
    this.#attempt?.end('neutral');
    this.complete(undefined, undefined);
    if (!exchangeEndObserved()) return;
    const o = this.outcome;
    let status = this.#status;
    let code = this.#code;
    if (o.code) {
      status = o.status ?? status;
      code = o.code;
    }
    if (this.reply.statusCode >= 400 && status === 200) status = this.reply.statusCode;
    const request = this.request;
    endExchange(this.observed, {
      status,
      code,
      requestId: String(this.req.id),
      clientRequestId: clientRequestId(this.req.headers),
      api: this.spec.api,
      seconds: (performance.now() - this.started) / 1000,
      requestModel: request?.model,
      stream: request?.stream,
      // the prompt only for tracing, which records content where a policy opts in
      body: this.observed ? request?.body : undefined,
      route: this.#route?.name,
      namespace: this.identity?.namespace,
      provider: o.provider,
      responseModel: o.model,
      pricing: o.pricing,
      usage: o.usage,
      finishReason: o.truncated ? 'length' : o.finishReason,
      cache: o.cache,
      truncated: o.truncated,
      truncatedBy: o.truncatedBy,
      limit: o.limit,
      accessLog: accessWriter(this.log),
    });
  }
}
