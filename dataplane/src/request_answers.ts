// Requests that are no exchange (a model list, a token count, a stored response's read or delete) and
// errors answered before any exchange began are requests too: each is published as the request's end
// like an exchange's, so it has its access line and counts in sluice_requests_total under an honest
// `api` label (observability/lifecycle.ts, EndpointApi). The label comes from the route's own config
// (fastify's `config.api`, set once when the route is registered), so the chat path pays nothing.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ClientApiSpec } from './api/types.ts';
import type { GatewayError } from './errors.ts';
import type { AccessWriter } from './observability/access_log.ts';
import {
  type EndpointApi,
  endExchange,
  exchangeEndObserved,
  type RequestApi,
} from './observability/lifecycle.ts';
import { intakeOf } from './proxy/intake.ts';
import type { Identity } from './proxy/policy_interface.ts';
import { clientRequestId } from './proxy/request_id.ts';

declare module 'fastify' {
  /** A route's config: the `api` its requests are counted under (set when the route is registered). */
  interface FastifyContextConfig {
    api?: RequestApi;
  }
}

const ENDPOINT_APIS: ReadonlySet<string> = new Set<EndpointApi>([
  'openai-models',
  'anthropic-models',
  'anthropic-count-tokens',
  'openai-responses-retrieve',
  'openai-responses-input-items',
  'openai-responses-delete',
  'none',
]);

/** The `api` a route was registered with; undefined for the catch-all and the not-found handler. */
export function routeApi(req: FastifyRequest): RequestApi | undefined {
  return req.routeOptions.config?.api;
}

function publish(
  reply: FastifyReply,
  api: RequestApi,
  status: number,
  code: string,
  access: AccessWriter,
  namespace: string | undefined,
  limit?: string,
): void {
  if (!exchangeEndObserved()) return;
  endExchange(undefined, {
    status,
    code,
    requestId: String(reply.request.id),
    // the client's own id beside Sluice's, as on an exchange's line (proxy/request_id.ts)
    clientRequestId: clientRequestId(reply.request.headers),
    api,
    plain: ENDPOINT_APIS.has(api),
    seconds: reply.elapsedTime / 1000,
    namespace,
    limit,
    accessLog: access,
  });
}

function sendError(reply: FastifyReply, spec: ClientApiSpec, err: GatewayError): FastifyReply {
  if (err.headers) for (const [k, v] of Object.entries(err.headers)) reply.header(k, v);
  return reply.code(err.status).header('content-type', 'application/json').send(spec.errorBody(err));
}

/**
 * An error answered before any exchange began (a refused credential, a body the intake would not
 * read, an unknown path or method, a models or stored-response lookup that failed), in `spec`'s
 * error shape. Without its publication, failed logins and refused bodies left no trace at all.
 */
export function answerError(
  reply: FastifyReply,
  spec: ClientApiSpec,
  err: GatewayError,
  api: RequestApi,
  access: AccessWriter,
  identity?: Identity,
): FastifyReply {
  sendError(reply, spec, err);
  publish(
    reply,
    api,
    err.status,
    err.code,
    access,
    // known when the caller was identified before the answer (a refused body, a failed lookup)
    (identity ?? intakeOf(reply.request)?.identity)?.namespace,
    // a rate limit refused before the body (proxy/intake.ts) counts like one refused at admission
    err.code === 'SLUICE_ERR_RATE_LIMITED' ? (err.param ?? 'unknown') : undefined,
  );
  return reply;
}

/** A request that is no exchange was answered (its body already sent): one access line, one count. */
export function answered(
  reply: FastifyReply,
  api: RequestApi,
  access: AccessWriter,
  namespace: string,
): void {
  publish(reply, api, reply.statusCode, 'ok', access, namespace);
}
