// The HTTP surface: fastify routes for every client API, /v1/models, path-prefixed routes and a
// minimal health and readiness answer (metrics and details are on the admin port). Framework errors (bad JSON, body too large, wrong media type) are mapped to
// the documented codes in the client API's own error shape.
import { createServer } from 'node:http';
import type { Socket } from 'node:net';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import type { Logger } from 'pino';
import { COUNT_TOKENS_PATH, countTokensHandler } from './api/count_tokens.ts';
import { modelById, modelList, wantsAnthropicShape } from './api/models.ts';
import { notFoundMessage } from './api/not_served.ts';
import { clientApis } from './api/registry.ts';
import type { ClientApiSpec } from './api/types.ts';
import type { Runtime } from './compiled/compile.ts';
import { type ErrorCode, GatewayError } from './errors.ts';
import { type AccessWriter, accessWriter } from './observability/access_log.ts';
import { endExchange, exchangeEndObserved, type RequestApi } from './observability/lifecycle.ts';
import { LazyChildLogger } from './observability/logger.ts';
import { observeRequests } from './observability/request_observer.ts';
import { installCors } from './proxy/cors.ts';
import { handleApi } from './proxy/exchange.ts';
import { callerOf, installIntake, intakeOf } from './proxy/intake.ts';
import type { Identity } from './proxy/policy_interface.ts';
import { clientRequestId, newRequestId } from './proxy/request_id.ts';
import { answerError, answered, routeApi } from './request_answers.ts';
import { registerResponseRoutes } from './responses/routes.ts';

export interface ServerState {
  runtime(): Runtime;
  ready(): { ready: boolean; details: Record<string, unknown> };
  draining(): boolean;
}

/**
 * The client API a path speaks: exact API paths, then paths under one (/v1/messages/count_tokens is
 * Anthropic's: its body-parser and intake errors must be in Anthropic's shape too), else by suffix for
 * path-prefixed routes.
 */
export function specForPath(path: string): ClientApiSpec {
  const exact = clientApis.find((s) => s.path === path || path.startsWith(`${s.path}/`));
  if (exact) return exact;
  const bySuffix = clientApis.find(
    (s) => s.api !== 'openai-chat' && path.endsWith(s.path.replace(/^\/v1/, '')),
  );
  return bySuffix ?? (clientApis.find((s) => s.api === 'openai-chat') as ClientApiSpec);
}

const FRAMEWORK_ERRORS: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'SLUICE_ERR_BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'SLUICE_ERR_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'SLUICE_ERR_INVALID_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'SLUICE_ERR_INVALID_JSON',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'SLUICE_ERR_INVALID_REQUEST',
};

function toGatewayError(err: FastifyError): GatewayError {
  if (err instanceof GatewayError) return err;
  const mapped = err.code ? FRAMEWORK_ERRORS[err.code] : undefined;
  if (mapped === 'SLUICE_ERR_UNSUPPORTED_MEDIA_TYPE') {
    return new GatewayError(mapped, 'the body must be JSON: send Content-Type: application/json');
  }
  if (mapped === 'SLUICE_ERR_BODY_TOO_LARGE') return new GatewayError(mapped, 'request body is too large');
  if (mapped) return new GatewayError(mapped, err.message);
  if (err instanceof SyntaxError || (err.statusCode === 400 && /JSON/i.test(err.message))) {
    return new GatewayError('SLUICE_ERR_INVALID_JSON', `invalid JSON body: ${err.message}`);
  }
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
    return new GatewayError('SLUICE_ERR_INVALID_REQUEST', err.message);
  }
  return new GatewayError('SLUICE_ERR_INTERNAL', 'internal error', { cause: err });
}

export interface ServerLimits {
  bodyLimit: number;
  maxHeaderBytes: number;
  requestReceiveTimeoutMs: number;
}

/** Dot segments in a path (raw or percent-encoded) are never a legitimate API path. */
const DOT_SEGMENT = /(^|\/|%2f|\\|%5c)(\.|%2e){1,2}(\/|%2f|\\|%5c|$)/i;

/** A POST to the catch-all route whose path no path-prefixed route serves (answered 404). */
function unroutedPath(runtime: Runtime, path: string): boolean {
  return DOT_SEGMENT.test(path) || !runtime.routes.some((r) => r.pathOnly && r.matchesPath(path));
}

/**
 * Errors Node's HTTP parser raises before fastify sees a request (header overflow, slow senders,
 * garbage) still get a JSON body in OpenAI's shape and a request id, then the connection is closed.
 * Each is a request answered, with its access line and count, like any other refusal: a flood of
 * them is what an operator needs to see.
 */
function clientErrorHandler(access: AccessWriter): (err: NodeJS.ErrnoException, socket: Socket) => void {
  return (err, socket) => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const gw =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? new GatewayError('SLUICE_ERR_HEADERS_TOO_LARGE', 'request headers are too large')
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? new GatewayError('SLUICE_ERR_REQUEST_TIMEOUT', 'the request was not received in time')
          : new GatewayError(
              'SLUICE_ERR_INVALID_REQUEST',
              `malformed HTTP request (${err.code ?? 'parse error'})`,
            );
    const body = JSON.stringify(gw.toJSON());
    const requestId = newRequestId();
    socket.end(
      `HTTP/1.1 ${gw.status} ${gw.status === 431 ? 'Request Header Fields Too Large' : gw.status === 408 ? 'Request Timeout' : 'Bad Request'}\r\n` +
        `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nx-request-id: ${requestId}\r\nconnection: close\r\n\r\n${body}`,
    );
    if (exchangeEndObserved())
      endExchange(undefined, {
        status: gw.status,
        code: gw.code,
        requestId,
        api: 'none',
        plain: true,
        accessLog: access,
      });
  };
}

export function buildServer(state: ServerState, log: Logger, limits: ServerLimits): FastifyInstance {
  // request metrics and the access log follow every exchange's lifecycle events
  observeRequests();
  const access = accessWriter(log);
  // the api a request is counted under: its route's, else (catch-all) the one its path ends in
  const apiOf = (req: FastifyRequest): RequestApi => {
    const api = routeApi(req);
    if (api) return api;
    const path = req.url.split('?')[0] ?? '';
    return req.routeOptions.url === '/*' && !unroutedPath(state.runtime(), path)
      ? specForPath(path).api
      : 'none';
  };
  const fail = (
    reply: FastifyReply,
    spec: ClientApiSpec,
    err: GatewayError,
    identity?: Identity,
    api: RequestApi = apiOf(reply.request),
  ) => answerError(reply, spec, err, api, access, identity);
  const bodyLimit = limits.bodyLimit;
  const app = Fastify({
    serverFactory: (handler) => {
      const server = createServer(
        {
          maxHeaderSize: limits.maxHeaderBytes,
          requestTimeout: limits.requestReceiveTimeoutMs,
          headersTimeout: Math.min(limits.requestReceiveTimeoutMs, 60_000),
          // Node checks those timeouts on this interval (default 30 s): check often enough to matter.
          connectionsCheckingInterval: Math.max(
            250,
            Math.min(5_000, Math.floor(limits.requestReceiveTimeoutMs / 2)),
          ),
        },
        handler,
      );
      // Longer than the usual 60 s idle timeout of load balancers, so they close idle connections
      // first (a server closing first races their next request into a reset). fastify's own
      // keepAliveTimeout option does not reach a server made by serverFactory.
      server.keepAliveTimeout = 65_000;
      // Node would answer "Expect: 100-continue" at once; the intake (proxy/intake.ts) sends the 100
      // only once the caller is identified and the body fits, so a refused client never uploads it.
      server.on('checkContinue', handler);
      // Any other expectation would get Node's bare 417 (no error JSON, no request id). RFC 9110
      // 10.1.1 lets a server ignore an expectation it does not know: the request is served as usual.
      server.on('checkExpectation', handler);
      return server;
    },
    clientErrorHandler: clientErrorHandler(access),
    loggerInstance: log.child({ component: 'http' }, { level: 'warn' }) as unknown as FastifyBaseLogger,
    // Sluice logs one line per request itself (observability/request_observer.ts); fastify's own request logs would double it.
    logController: new LogController({ disableRequestLogging: true }),
    // the per-request child logger only when something logs through it (observability/logger.ts)
    childLoggerFactory: (logger, bindings, opts) =>
      new LazyChildLogger(logger as unknown as Logger, bindings, opts) as unknown as FastifyBaseLogger,
    bodyLimit,
    // always Sluice's own: a client's id is kept beside it (proxy/request_id.ts), never taken as it
    genReqId: () => newRequestId(),
    forceCloseConnections: 'idle',
    return503OnClosing: false,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
  });

  // Only JSON bodies are accepted; anything else is a documented 415, not a confusing 400.
  app.removeContentTypeParser('text/plain');

  app.addHook('onRequest', (req, reply, done) => {
    reply.header('x-request-id', req.id);
    const clientId = clientRequestId(req.headers);
    if (clientId !== undefined) reply.header('x-client-request-id', clientId);
    // While draining, requests that still arrive on open keep-alive connections are served, but the
    // connection is closed after the response so the client moves to another replica.
    if (state.draining()) reply.header('connection', 'close');
    done();
  });

  // After the hook above: early answers carry x-request-id too.
  // Identify first, then read the body within the caller's limit and the memory budget.
  installIntake(app, {
    runtime: () => state.runtime(),
    fail: (req, reply, err, identity) => fail(reply, specForPath(req.url.split('?')[0] ?? ''), err, identity),
    notFound: (runtime, req) => {
      const path = req.url.split('?')[0] ?? '';
      return req.routeOptions.url === '/*' && unroutedPath(runtime, path)
        ? new GatewayError('SLUICE_ERR_NOT_FOUND', notFoundMessage('POST', path))
        : undefined;
    },
  });

  // After the intake: a POST's caller is known by then. Preflights never reach limits or bodies.
  installCors(app, {
    runtime: (req) => intakeOf(req)?.runtime ?? state.runtime(),
    identify: (req, runtime) => callerOf(req, runtime).catch(() => undefined),
  });

  app.setErrorHandler((err: FastifyError, req, reply) => {
    const gw = toGatewayError(err);
    if (gw.code === 'SLUICE_ERR_INTERNAL') log.error({ err, reqId: req.id }, 'unhandled error');
    return fail(reply, specForPath(req.url.split('?')[0] ?? ''), gw);
  });

  app.setNotFoundHandler((req, reply) =>
    fail(
      reply,
      specForPath(req.url),
      new GatewayError('SLUICE_ERR_NOT_FOUND', notFoundMessage(req.method, req.url.split('?')[0] ?? '')),
    ),
  );

  // not async: handleApi's own promise is the handler's (one promise less per request)
  const serve = (spec: ClientApiSpec) => (req: FastifyRequest, reply: FastifyReply) => {
    // the config the caller was identified with, even if a reload swapped it since
    const runtime = intakeOf(req)?.runtime ?? state.runtime();
    return handleApi(req, reply, spec, runtime, log);
  };

  for (const spec of clientApis) {
    app.post(spec.path, { config: { api: spec.api } }, serve(spec));
    app.route({
      method: ['GET', 'PUT', 'DELETE', 'PATCH'],
      url: spec.path,
      config: { api: spec.api },
      handler: (_req, reply) =>
        // RFC 9110 15.5.6: a 405 says which methods are allowed (set before the body goes out)
        fail(
          reply,
          spec,
          new GatewayError('SLUICE_ERR_METHOD_NOT_ALLOWED', `use POST for ${spec.path}`, {
            headers: { allow: 'POST' },
          }),
        ),
    });
  }

  // Routes matched by path prefix (e.g. /api/chat): the client API is chosen by the path's ending.
  app.post('/*', async (req, reply) => {
    const path = req.url.split('?')[0] ?? '';
    const runtime = state.runtime();
    if (unroutedPath(runtime, path)) {
      return fail(
        reply,
        specForPath(path),
        new GatewayError('SLUICE_ERR_NOT_FOUND', notFoundMessage('POST', path)),
      );
    }
    return serve(specForPath(path))(req, reply);
  });

  registerResponseRoutes(app, {
    runtime: () => state.runtime(),
    identify: callerOf,
    fail: (reply, err, namespace) =>
      fail(reply, specForPath('/v1/responses'), err, namespace === undefined ? undefined : { namespace }),
    answered: (reply, namespace) => answered(reply, apiOf(reply.request), access, namespace),
  });

  // Anthropic's token counting endpoint (no limits charged; errors in Anthropic's shape).
  app.post(COUNT_TOKENS_PATH, { config: { api: 'anthropic-count-tokens' } }, async (req, reply) => {
    const runtime = intakeOf(req)?.runtime ?? state.runtime();
    try {
      const identity = await callerOf(req, runtime);
      await countTokensHandler(req, reply, runtime, identity);
      answered(reply, 'anthropic-count-tokens', access, identity.namespace);
      return reply;
    } catch (err) {
      if (err instanceof GatewayError) return fail(reply, specForPath('/v1/messages'), err);
      throw err;
    }
  });

  // The models this caller may use, in OpenAI's shape or (anthropic-version sent) Anthropic's.
  const models =
    (one: boolean) =>
    async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
      const runtime = state.runtime();
      const anthropic = wantsAnthropicShape(req.headers);
      const spec = specForPath(anthropic ? '/v1/messages' : '/v1/chat/completions');
      const api = anthropic ? 'anthropic-models' : 'openai-models';
      let identity: Identity | undefined;
      try {
        identity = await callerOf(req, runtime);
        const id = (req.params as { id?: string }).id ?? '';
        reply.send(
          one ? modelById(runtime, identity, id, anthropic) : modelList(runtime, identity, anthropic),
        );
        answered(reply, api, access, identity.namespace);
        return reply;
      } catch (err) {
        if (err instanceof GatewayError) return fail(reply, spec, err, identity, api);
        throw err;
      }
    };
  // the anthropic shape is chosen per request (its header); the route's api covers refusals before it
  app.get('/v1/models', { config: { api: 'openai-models' } }, models(false));
  app.get('/v1/models/:id', { config: { api: 'openai-models' } }, models(true));

  // Anyone who reaches the API port may ask: the answer is the status and nothing else. Metrics and
  // the detailed readiness (tenants, providers, config errors) are on the admin port (admin_server.ts).
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const { ready } = state.ready();
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready' });
  });
  return app;
}
