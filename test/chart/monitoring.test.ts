// The PrometheusRule alerts and the Grafana dashboard: every PromQL expression parses (Prometheus'
// own Lezer grammar) and names only metrics and labels the dataplane really exports.
import { parser } from '@prometheus-io/lezer-promql';
import { beforeAll, describe, expect, it } from 'vitest';
import { registry } from '../../dataplane/src/observability/metrics.ts';
import { OperatorMetrics } from '../../operator/src/controller/metrics.ts';
import { ALL_TOGGLES_ON, get, getArray, type K8sObject, MONITORING_API, one, render } from './helm.ts';

// Labels Prometheus adds to every scraped series (ServiceMonitor targets), plus the relabelled tenant.
const TARGET_LABELS = new Set(['job', 'namespace', 'pod', 'instance', 'service', 'container', 'endpoint']);

interface Exported {
  labels: Set<string>;
}

/** Series names the dataplane and operator registries export (histograms as _bucket/_sum/_count) and their labels. */
function exportedSeries(): Map<string, Exported> {
  const out = new Map<string, Exported>();
  for (const m of [...registry.getMetricsAsArray(), ...new OperatorMetrics().registry.getMetricsAsArray()]) {
    const labelNames = (m as unknown as { labelNames?: readonly string[] }).labelNames ?? [];
    const labels = new Set<string>(labelNames);
    // The ServiceMonitor renames the tenant label `namespace` (it collides with the target's) to sluice_namespace.
    if (labels.has('namespace')) labels.add('sluice_namespace');
    const type = (m as unknown as { type?: string }).type;
    if (type === 'histogram') {
      out.set(`${m.name}_bucket`, { labels: new Set([...labels, 'le']) });
      out.set(`${m.name}_sum`, { labels });
      out.set(`${m.name}_count`, { labels });
    } else {
      out.set(m.name, { labels });
    }
  }
  return out;
}

interface Parsed {
  errors: string[];
  metrics: string[];
  labels: string[];
}

function parsePromQL(expr: string): Parsed {
  const tree = parser.parse(expr);
  const parsed: Parsed = { errors: [], metrics: [], labels: [] };
  tree.iterate({
    enter: (n) => {
      const text = expr.slice(n.from, n.to);
      if (n.type.isError)
        parsed.errors.push(`syntax error at ${n.from}: '${expr.slice(n.from, n.from + 20)}'`);
      else if (n.name === 'Identifier' && n.node.parent?.name === 'VectorSelector') parsed.metrics.push(text);
      else if (n.name === 'LabelName') parsed.labels.push(text);
    },
  });
  return parsed;
}

function checkExpr(where: string, expr: string, series: Map<string, Exported>): void {
  const p = parsePromQL(expr);
  expect(p.errors, `${where}: ${expr}`).toEqual([]);
  expect(p.metrics.length, `${where} names no metric`).toBeGreaterThan(0);
  const allowed = new Set(TARGET_LABELS);
  for (const name of p.metrics) {
    const s = series.get(name);
    expect(s, `${where}: metric ${name} is not exported by the dataplane`).toBeDefined();
    for (const l of s?.labels ?? []) allowed.add(l);
  }
  for (const l of p.labels)
    expect(allowed.has(l), `${where}: label ${l} is not on ${p.metrics.join(', ')}`).toBe(true);
}

describe('PrometheusRule', () => {
  let rule: K8sObject;
  const series = exportedSeries();
  beforeAll(async () => {
    rule = one(await render(ALL_TOGGLES_ON, { apiVersions: [MONITORING_API] }), 'PrometheusRule');
  });

  it('has the seeds alerts: error rate > 5% for 5m, p95 latency, upstream down, rejection spike, config not programmed', () => {
    const rules = getArray(rule, 'spec.groups').flatMap((g) => getArray(g, 'rules'));
    const byName = new Map(rules.map((r) => [get(r, 'alert'), r]));
    expect([...byName.keys()]).toEqual(
      expect.arrayContaining([
        'SluiceHighErrorRate',
        'SluiceHighLatencyP95',
        'SluiceUpstreamDown',
        'SluiceLimitRejectionsSpike',
        'SluiceConfigNotProgrammed',
        'SluiceOperatorNoLeader',
      ]),
    );
    const errorRate = byName.get('SluiceHighErrorRate');
    expect(get(errorRate, 'for')).toBe('5m');
    expect(String(get(errorRate, 'expr'))).toMatch(/status=~"5\.\."[\s\S]*> 0\.05\s*$/);
    expect(String(get(byName.get('SluiceHighLatencyP95'), 'expr'))).toContain('histogram_quantile(0.95');
    for (const r of rules) {
      expect(get(r, 'labels.severity'), String(get(r, 'alert'))).toMatch(/^(warning|critical)$/);
      expect(get(r, 'annotations.summary')).toBeTruthy();
    }
  });

  it('every alert expression parses and uses only exported metrics and labels, scoped to the release', () => {
    const rules = getArray(rule, 'spec.groups').flatMap((g) => getArray(g, 'rules'));
    for (const r of rules) {
      const expr = String(get(r, 'expr'));
      checkExpr(String(get(r, 'alert')), expr, series);
      expect(expr).toMatch(/job="sluice-(dataplane|operator-metrics)",namespace="sluice-system"/);
    }
  });

  it('takes its thresholds from values', async () => {
    const objs = await render(
      {
        monitoring: {
          prometheusRule: {
            enabled: true,
            errorRateThreshold: 0.02,
            errorRateFor: '10m',
            p95LatencySeconds: 3,
          },
        },
      },
      { apiVersions: [MONITORING_API] },
    );
    const rules = getArray(one(objs, 'PrometheusRule'), 'spec.groups').flatMap((g) => getArray(g, 'rules'));
    const errorRate = rules.find((r) => get(r, 'alert') === 'SluiceHighErrorRate');
    expect(get(errorRate, 'for')).toBe('10m');
    expect(String(get(errorRate, 'expr'))).toMatch(/> 0\.02\s*$/);
    const p95 = rules.find((r) => get(r, 'alert') === 'SluiceHighLatencyP95');
    expect(String(get(p95, 'expr'))).toMatch(/> 3\s*$/);
  });
});

describe('Grafana dashboard', () => {
  let dashboard: { panels: unknown[]; templating: unknown };
  const series = exportedSeries();
  beforeAll(async () => {
    const cm = one(
      await render({ monitoring: { dashboard: { enabled: true } } }),
      'ConfigMap',
      'sluice-dashboard',
    );
    const data = get(cm, 'data') as Record<string, string>;
    dashboard = JSON.parse(data['sluice.json'] ?? '{}');
  });

  // Grafana substitutes its variables before sending the query; do the same with plausible values.
  const substitute = (expr: string) =>
    expr
      .replaceAll('$__rate_interval', '1m')
      .replaceAll('$__range', '6h')
      .replaceAll('$job', '.*')
      .replaceAll('$namespace', '.*');

  it('has panels for RPS, latency p50/p99, TTFT, tokens, cost, rejections, upstream health and config reloads', () => {
    const titles = dashboard.panels.map((p) => String(get(p, 'title')));
    const exprs = dashboard.panels.flatMap((p) =>
      ((get(p, 'targets') as unknown[] | undefined) ?? []).map((t) => String(get(t, 'expr'))),
    );
    const uses = (metric: string) => exprs.some((e) => e.includes(metric));
    expect(uses('sluice_requests_total')).toBe(true);
    expect(
      exprs.some(
        (e) => e.includes('histogram_quantile(0.5,') && e.includes('gen_ai_server_request_duration'),
      ),
    ).toBe(true);
    expect(
      exprs.some(
        (e) => e.includes('histogram_quantile(0.99,') && e.includes('gen_ai_server_request_duration'),
      ),
    ).toBe(true);
    expect(uses('gen_ai_server_time_to_first_token_bucket')).toBe(true);
    expect(uses('sluice_tokens_total')).toBe(true);
    expect(uses('sluice_cost_usd_total')).toBe(true);
    expect(uses('sluice_limit_rejections_total')).toBe(true);
    expect(uses('sluice_provider_healthy')).toBe(true);
    expect(uses('sluice_config_reloads_total')).toBe(true);
    expect(titles).toEqual(
      expect.arrayContaining(['Requests per second by route', 'Config reloads by result']),
    );
  });

  it('every panel query parses and uses only exported metrics and labels', () => {
    let count = 0;
    for (const p of dashboard.panels) {
      for (const t of (get(p, 'targets') as unknown[] | undefined) ?? []) {
        checkExpr(`panel "${String(get(p, 'title'))}"`, substitute(String(get(t, 'expr'))), series);
        count++;
      }
    }
    expect(count).toBeGreaterThan(20);
  });

  it('lays panels out without overlaps', () => {
    const boxes = dashboard.panels.map(
      (p) => get(p, 'gridPos') as { x: number; y: number; w: number; h: number },
    );
    for (let i = 0; i < boxes.length; i++)
      for (let j = i + 1; j < boxes.length; j++) {
        const a = boxes[i]!;
        const b = boxes[j]!;
        const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
        expect(overlap, `panels ${i} and ${j} overlap`).toBe(false);
      }
  });
});
