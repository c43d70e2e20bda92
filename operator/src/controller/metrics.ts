// Operator metrics (own registry, so they never mix with the dataplane's in one process) and the
// /metrics, /healthz and /readyz endpoints.
import http from 'node:http';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export class OperatorMetrics {
  readonly registry = new Registry();
  readonly reconciles = new Counter({
    name: 'sluice_operator_reconciles_total',
    help: 'Reconciles by controller and result',
    labelNames: ['controller', 'result'],
    registers: [this.registry],
  });
  readonly errors = new Counter({
    name: 'sluice_operator_reconcile_errors_total',
    help: 'Reconciles that failed and were requeued with backoff',
    labelNames: ['controller'],
    registers: [this.registry],
  });
  readonly duration = new Histogram({
    name: 'sluice_operator_reconcile_duration_seconds',
    help: 'Time spent in one reconcile',
    labelNames: ['controller'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly renderedBytes = new Gauge({
    name: 'sluice_operator_rendered_bytes',
    help: 'Bytes of data in the rendered objects (after compression, if any)',
    labelNames: ['object'],
    registers: [this.registry],
  });
  readonly writes = new Counter({
    name: 'sluice_operator_output_writes_total',
    help: 'Server-side applies of the rendered ConfigMap and Secret (unchanged output is not written)',
    labelNames: ['object'],
    registers: [this.registry],
  });
  readonly statusWrites = new Counter({
    name: 'sluice_operator_status_writes_total',
    help: 'Status subresource updates',
    registers: [this.registry],
  });
  readonly objects = new Gauge({
    name: 'sluice_operator_objects',
    help: 'Custom resources by kind and whether they are accepted',
    labelNames: ['kind', 'accepted'],
    registers: [this.registry],
  });
  readonly leader = new Gauge({
    name: 'sluice_operator_leader',
    help: '1 while this replica is the leader',
    registers: [this.registry],
  });
  readonly relists = new Counter({
    name: 'sluice_operator_informer_relists_total',
    help: 'Full lists after a watch expired (410 Gone: its resourceVersion was compacted away)',
    labelNames: ['resource'],
    registers: [this.registry],
  });
  readonly watchRestarts = new Counter({
    name: 'sluice_operator_watch_restarts_total',
    help: 'Watches (or lists) that failed and were restarted with backoff',
    labelNames: ['resource'],
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'sluice_operator_workqueue_depth',
    help: 'Keys waiting in a work queue (render, status)',
    labelNames: ['queue'] as const,
    registers: [this.registry],
  });
}

export interface HealthSource {
  healthy(): boolean;
  ready(): boolean;
}

export function serveMetrics(
  metrics: OperatorMetrics,
  health: HealthSource,
  port: number,
  host = '0.0.0.0',
): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      metrics.registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': metrics.registry.contentType });
          res.end(text);
        },
        (err: unknown) => {
          res.writeHead(500).end(String(err));
        },
      );
      return;
    }
    if (path === '/healthz' || path === '/readyz') {
      const ok = path === '/healthz' ? health.healthy() : health.ready();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok' : 'not ready');
      return;
    }
    res.writeHead(404).end('not found');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
