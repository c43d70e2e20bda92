// The admin port: /metrics and the detailed /readyz (config hash and errors, providers' circuits,
// the policy store, tenants) on a listener of their own, so that what the API port serves to anyone
// who can reach it is the API and a bare status. Bound to server.admin (default 127.0.0.1:9464);
// the chart points Prometheus, the probes and the NetworkPolicy at it and never exposes it through
// the Ingress.
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Logger } from 'pino';
import { registry } from './observability/metrics.ts';
import { logRedactor } from './security/redactor.ts';
import type { ServerState } from './server.ts';

export function buildAdminServer(state: ServerState, log: Logger): FastifyInstance {
  const app = Fastify({
    loggerInstance: log.child({ component: 'admin' }, { level: 'warn' }) as unknown as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    // nothing here takes a body
    bodyLimit: 1024,
    forceCloseConnections: true,
  });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const { ready, details } = state.ready();
    // a config error names fields and positions, never file contents (security/parse_errors.ts);
    // scrubbed of the loaded config's secrets and key shapes all the same
    if (typeof details.configError === 'string')
      details.configError = logRedactor().redact(details.configError);
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', ...details });
  });
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
  return app;
}
