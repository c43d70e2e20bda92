// Prometheus metrics. Names follow the OpenTelemetry GenAI semantic conventions where one exists
// (gen_ai_client_token_usage, gen_ai_server_request_duration, gen_ai_server_time_to_first_token).
// Every label value comes from the loaded config (route, provider, namespace and model names) or a
// small fixed set, so cardinality is bounded by the config, never by what clients send. The metrics the
// request path updates are series.ts families (label values passed in labelNames order); the rest
// are prom-client's own.
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { memoryBudget } from '../proxy/memory_budget.ts';
import { CounterFamily, HistogramFamily, LevelGauge } from './series.ts';

export const registry = new Registry();
// No prefix: the standard names every Prometheus client library exports (process_cpu_seconds_total,
// process_resident_memory_bytes, nodejs_eventloop_lag_p99_seconds, ...), which stock dashboards and
// alerts expect. A prefix of 'sluice_process_' gave sluice_process_process_cpu_seconds_total.
collectDefaultMetrics({ register: registry });

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
const TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576];

type EndpointCounts = { ready: number; ejected: number; unhealthy: number };
let endpointCountSource: () => Iterable<[string, EndpointCounts]> = () => [];
/** The dataplane tells the scrape where its providers' endpoint counts are (read at scrape time). */
export function setEndpointCountSource(fn: () => Iterable<[string, EndpointCounts]>): void {
  endpointCountSource = fn;
}

export const metrics = {
  requests: new CounterFamily({
    name: 'sluice_requests_total',
    help: 'Requests answered, by route, namespace, API and status code',
    labelNames: ['route', 'namespace', 'api', 'status', 'code'] as const,
    registers: [registry],
  }),
  inflight: new LevelGauge({
    name: 'sluice_inflight_requests',
    help: 'Requests being served right now (the HPA custom metric)',
    registers: [registry],
  }),
  requestDuration: new HistogramFamily({
    name: 'gen_ai_server_request_duration',
    help: 'Seconds from request received to response complete',
    labelNames: [
      'gen_ai_operation_name',
      'gen_ai_provider_name',
      'gen_ai_request_model',
      'route',
      'error_type',
    ] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  }),
  timeToFirstToken: new HistogramFamily({
    name: 'gen_ai_server_time_to_first_token',
    help: 'Seconds from request received to the first streamed token sent to the client',
    labelNames: ['gen_ai_operation_name', 'gen_ai_provider_name', 'gen_ai_request_model', 'route'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  }),
  tokenUsage: new HistogramFamily({
    name: 'gen_ai_client_token_usage',
    help: 'Tokens per request by type (input/output)',
    labelNames: [
      'gen_ai_token_type',
      'gen_ai_operation_name',
      'gen_ai_provider_name',
      'gen_ai_request_model',
      'namespace',
    ] as const,
    buckets: TOKEN_BUCKETS,
    registers: [registry],
  }),
  tokens: new CounterFamily({
    name: 'sluice_tokens_total',
    help: 'Tokens by namespace, model, provider and type (input, output, cached_input)',
    labelNames: ['namespace', 'model', 'provider', 'type'] as const,
    registers: [registry],
  }),
  costUsd: new CounterFamily({
    name: 'sluice_cost_usd_total',
    help: 'Spend in USD computed from model pricing',
    labelNames: ['namespace', 'model', 'provider'] as const,
    registers: [registry],
  }),
  upstreamDuration: new HistogramFamily({
    name: 'sluice_upstream_request_duration_seconds',
    help: 'Seconds per upstream attempt until headers, by provider and outcome',
    labelNames: ['provider', 'outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  }),
  upstreamAttempts: new CounterFamily({
    name: 'sluice_upstream_attempts_total',
    help: 'Upstream attempts by provider and outcome (ok, http_4xx, http_5xx, http_429, timeout, connect)',
    labelNames: ['provider', 'outcome'] as const,
    registers: [registry],
  }),
  fallbacks: new Counter({
    name: 'sluice_fallbacks_total',
    help: 'Switches from one backend to another within a request',
    labelNames: ['route', 'from_provider', 'to_provider', 'reason'] as const,
    registers: [registry],
  }),
  circuitState: new Gauge({
    name: 'sluice_circuit_state',
    help: 'Circuit breaker state per provider: 0 closed, 1 open (ejected), 2 half-open',
    labelNames: ['provider'] as const,
    registers: [registry],
  }),
  providerHealthy: new Gauge({
    name: 'sluice_provider_healthy',
    help: '1 when the active health check passes (or none is configured), else 0',
    labelNames: ['provider'] as const,
    registers: [registry],
  }),
  configReloads: new Counter({
    name: 'sluice_config_reloads_total',
    help: 'Config reload attempts by result (success, failure)',
    labelNames: ['result'] as const,
    registers: [registry],
  }),
  configInfo: new Gauge({
    name: 'sluice_config_info',
    help: 'Always 1; the hash label names the config this replica serves',
    labelNames: ['hash'] as const,
    registers: [registry],
  }),
  configLastGood: new Gauge({
    name: 'sluice_config_last_reload_success_timestamp_seconds',
    help: 'Unix time of the last successful config load',
    registers: [registry],
  }),
  configValid: new Gauge({
    name: 'sluice_config_valid',
    help: '1 when the newest config on disk loaded; 0 when the replica is serving an older config',
    registers: [registry],
  }),
  streamsTruncated: new Counter({
    name: 'sluice_stream_truncations_total',
    help: 'Streams ended early by an output token cap or budget',
    labelNames: ['namespace', 'reason'] as const,
    registers: [registry],
  }),
  limitRejections: new Counter({
    name: 'sluice_limit_rejections_total',
    help: 'Requests rejected by a policy, by limit kind',
    labelNames: ['namespace', 'limit'] as const,
    registers: [registry],
  }),
  jwtAmbiguous: new Counter({
    name: 'sluice_jwt_ambiguous_total',
    help: 'JWTs refused because the rules of several namespaces matched them: several_verify (two tenants accept the same token) or too_many_candidates',
    labelNames: ['reason'] as const,
    registers: [registry],
  }),
  cache: new Counter({
    name: 'sluice_cache_requests_total',
    help: 'Response cache lookups by result (hit, miss)',
    labelNames: ['namespace', 'result'] as const,
    registers: [registry],
  }),
  backendSuspended: new Gauge({
    name: 'sluice_backend_suspended',
    help: '1 for each route backend taken out by the degrade switch (suspended on the backend or its provider)',
    labelNames: ['route', 'provider'] as const,
    registers: [registry],
  }),
  providerEndpoints: new Gauge({
    name: 'sluice_provider_endpoints',
    help: "A provider's endpoints (pods) by state: ready, ejected (circuit open), unhealthy (health check)",
    labelNames: ['provider', 'state'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [provider, c] of endpointCountSource()) {
        this.set({ provider, state: 'ready' }, c.ready);
        this.set({ provider, state: 'ejected' }, c.ejected);
        this.set({ provider, state: 'unhealthy' }, c.unhealthy);
      }
    },
  }),
  memoryBudget: new Gauge({
    name: 'sluice_memory_budget_bytes',
    help: 'Bytes request bodies and whole upstream answers in flight hold (used), and the budget (limit)',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      this.set({ state: 'used' }, memoryBudget.used);
      this.set({ state: 'limit' }, memoryBudget.limit);
    },
  }),
  storeHealthy: new Gauge({
    name: 'sluice_store_healthy',
    help: '1 when the shared limit store (Redis) answers, 0 when the replica runs on its local fallback',
    registers: [registry],
  }),
};
metrics.storeHealthy.set(1);
