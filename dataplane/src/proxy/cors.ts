// CORS for web apps that call the gateway straight from the browser, per tenant and off by default.
// A preflight (OPTIONS with Access-Control-Request-Method) carries no credentials, so it cannot be
// tied to a tenant: it is answered from the union of the tenants' policies, without touching limits or
// reading a body. The actual request is identified as usual, and gets Access-Control-Allow-Origin only
// when ITS tenant allows the origin — a browser then refuses to show another tenant's page the answer.
// Headers go on the raw response so whole answers and hijacked streams both carry them.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Runtime } from '../compiled/compile.ts';
import type { CorsConfig } from '../config/schema.ts';
import type { Identity } from './policy_interface.ts';

interface CorsTable {
  byNamespace: Map<string, CorsConfig>;
  /** every policy, for preflights */
  all: CorsConfig[];
}

const tables = new WeakMap<Runtime, CorsTable>();

function tableOf(runtime: Runtime): CorsTable {
  let t = tables.get(runtime);
  if (!t) {
    const byNamespace = new Map<string, CorsConfig>();
    for (const ns of runtime.config.namespaces) if (ns.cors) byNamespace.set(ns.name, ns.cors);
    // an open gateway (no tenants) answers every caller as 'default'
    const open = runtime.config.server.cors;
    if (open && runtime.config.namespaces.length === 0) byNamespace.set('default', open);
    t = { byNamespace, all: [...byNamespace.values()] };
    tables.set(runtime, t);
  }
  return t;
}

function allows(c: CorsConfig, origin: string): boolean {
  return c.allowOrigins.includes('*') || c.allowOrigins.includes(origin);
}

/**
 * The request's Origin, or undefined when it names none: absent, blank, or longer than any origin.
 * Node strips spaces and tabs around a header value but not other whitespace (a latin1 NBSP, 0xA0):
 * an Origin of only that was answered as a preflight while an empty one was not (found by
 * header_framing_fuzz). Compared as sent otherwise: browsers send origins without whitespace.
 */
function originOf(req: FastifyRequest): string | undefined {
  const o = req.headers.origin;
  return typeof o === 'string' && o.length <= 300 && o.trim() !== '' ? o : undefined;
}

function preflight(req: FastifyRequest, reply: FastifyReply, runtime: Runtime, origin: string): FastifyReply {
  const method = String(req.headers['access-control-request-method'] ?? '').toUpperCase();
  const policy = tableOf(runtime).all.find(
    (c) => allows(c, origin) && (c.allowMethods as string[]).includes(method),
  );
  reply.header('vary', 'origin');
  if (!policy) return reply.code(204).send();
  const asked = String(req.headers['access-control-request-headers'] ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
  const allowed = asked.filter((h) => policy.allowHeaders.includes(h));
  reply
    .header('access-control-allow-origin', origin)
    .header('access-control-allow-methods', policy.allowMethods.join(', '))
    .header('access-control-max-age', String(policy.maxAgeSeconds));
  if (allowed.length) reply.header('access-control-allow-headers', allowed.join(', '));
  if (policy.allowCredentials) reply.header('access-control-allow-credentials', 'true');
  return reply.code(204).send();
}

export interface CorsOptions {
  runtime(req: FastifyRequest): Runtime;
  /** the caller, if the headers identify one (never throws) */
  identify(req: FastifyRequest, runtime: Runtime): Promise<Identity | undefined>;
}

/** Preflights for every path, and the allow headers on actual requests of tenants that opted in. */
export function installCors(app: FastifyInstance, opts: CorsOptions): void {
  // callback style: most requests carry no Origin and pay no promise for this hook
  app.addHook('onRequest', (req, reply, done) => {
    const origin = originOf(req);
    if (!origin) return done();
    corsHeaders(req, reply, origin, opts).then(() => done(), done);
  });
}

async function corsHeaders(
  req: FastifyRequest,
  reply: FastifyReply,
  origin: string,
  opts: CorsOptions,
): Promise<void> {
  const runtime = opts.runtime(req);
  if (tableOf(runtime).all.length === 0) return;
  if (req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined) {
    await preflight(req, reply, runtime, origin);
    return;
  }
  const identity = await opts.identify(req, runtime);
  const policy = identity ? tableOf(runtime).byNamespace.get(identity.namespace) : undefined;
  const raw = reply.raw;
  raw.setHeader('vary', 'origin');
  if (!policy || !allows(policy, origin)) return;
  raw.setHeader('access-control-allow-origin', origin);
  raw.setHeader('access-control-expose-headers', policy.exposeHeaders.join(', '));
  if (policy.allowCredentials) raw.setHeader('access-control-allow-credentials', 'true');
}
