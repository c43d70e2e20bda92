// The chart's PrometheusRule run by Prometheus' own rule engine: `promtool check rules` on the rendered
// groups, and `promtool test rules` with series that make every alert fire and series that must not,
// so a threshold, a `for`, a selector or an annotation template that is wrong fails here, not in a
// cluster at 4 am. promtool comes from Debian's prometheus package (scripts/install-tools.sh system).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ALL_TOGGLES_ON, get, getArray, MONITORING_API, one, render } from './helm.ts';
import { requirePrometheusTool } from './prometheus.ts';

// The selectors the chart renders for release "sluice" in namespace "sluice-system".
const DP = 'job="sluice-dataplane",namespace="sluice-system"';
const OP = 'job="sluice-operator-metrics",namespace="sluice-system"';

interface Rule {
  alert?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

interface Case {
  name: string;
  alert: string;
  series: Array<{ series: string; values: string }>;
  evalTime: string;
  /** labels the alert carries besides alertname and the rule's own labels; undefined = must not fire */
  fires?: Record<string, string>;
  /** what each template in the annotations must expand to for these series */
  expands?: Record<string, string>;
}

// Series values use promtool's expanding notation: 'a+bxN' is a, a+b, ... (N+1 samples, 1m apart).
const CASES: Case[] = [
  {
    name: '10% of requests are 5xx',
    alert: 'SluiceHighErrorRate',
    series: [
      { series: `sluice_requests_total{${DP},pod="a",status="200"}`, values: '0+540x20' },
      { series: `sluice_requests_total{${DP},pod="a",status="502"}`, values: '0+60x20' },
    ],
    evalTime: '15m',
    fires: {},
    expands: { '{{ $value | humanizePercentage }}': '10%' },
  },
  {
    name: '1% of requests are 5xx',
    alert: 'SluiceHighErrorRate',
    series: [
      { series: `sluice_requests_total{${DP},pod="a",status="200"}`, values: '0+594x20' },
      { series: `sluice_requests_total{${DP},pod="a",status="500"}`, values: '0+6x20' },
    ],
    evalTime: '15m',
  },
  {
    name: 'p95 of 29 s (every request in the (10, 30] bucket)',
    alert: 'SluiceHighLatencyP95',
    series: ['1', '10', '30', '+Inf'].map((le) => ({
      series: `gen_ai_server_request_duration_bucket{${DP},pod="a",le="${le}"}`,
      values: le === '1' || le === '10' ? '0x30' : '0+60x30',
    })),
    evalTime: '25m',
    fires: {},
    expands: { '{{ $value | humanizeDuration }}': '29s' },
  },
  {
    name: 'p95 under a second',
    alert: 'SluiceHighLatencyP95',
    series: ['1', '10', '30', '+Inf'].map((le) => ({
      series: `gen_ai_server_request_duration_bucket{${DP},pod="a",le="${le}"}`,
      values: '0+60x30',
    })),
    evalTime: '25m',
  },
  {
    name: 'a provider fails its health check',
    alert: 'SluiceUpstreamDown',
    series: [
      { series: `sluice_provider_healthy{${DP},pod="a",provider="openai"}`, values: '0x10' },
      { series: `sluice_provider_healthy{${DP},pod="a",provider="claude"}`, values: '1x10' },
      { series: `sluice_circuit_state{${DP},pod="a",provider="openai"}`, values: '0x10' },
      { series: `sluice_circuit_state{${DP},pod="a",provider="claude"}`, values: '0x10' },
    ],
    evalTime: '5m',
    fires: { provider: 'openai' },
    expands: { '{{ $labels.provider }}': 'openai' },
  },
  {
    name: "a provider's circuit is open",
    alert: 'SluiceUpstreamDown',
    series: [
      { series: `sluice_provider_healthy{${DP},pod="a",provider="claude"}`, values: '1x10' },
      { series: `sluice_circuit_state{${DP},pod="a",provider="claude"}`, values: '1x10' },
    ],
    evalTime: '5m',
    fires: { provider: 'claude' },
    expands: { '{{ $labels.provider }}': 'claude' },
  },
  {
    name: 'providers healthy, circuits closed or half-open',
    alert: 'SluiceUpstreamDown',
    series: [
      { series: `sluice_provider_healthy{${DP},pod="a",provider="openai"}`, values: '1x10' },
      { series: `sluice_circuit_state{${DP},pod="a",provider="openai"}`, values: '0x10' },
      { series: `sluice_circuit_state{${DP},pod="a",provider="claude"}`, values: '2x10' },
    ],
    evalTime: '5m',
  },
  {
    name: '10 limit rejections per second',
    alert: 'SluiceLimitRejectionsSpike',
    series: [
      { series: `sluice_limit_rejections_total{${DP},pod="a",limit="requests"}`, values: '0+300x30' },
      { series: `sluice_limit_rejections_total{${DP},pod="a",limit="tokens"}`, values: '0+300x30' },
    ],
    evalTime: '25m',
    fires: {},
    expands: { '{{ $value | humanize }}': '10' },
  },
  {
    name: '1 limit rejection per second',
    alert: 'SluiceLimitRejectionsSpike',
    series: [{ series: `sluice_limit_rejections_total{${DP},pod="a",limit="requests"}`, values: '0+60x30' }],
    evalTime: '25m',
  },
  {
    name: 'a replica failed to load the newest config',
    alert: 'SluiceConfigNotProgrammed',
    series: [
      { series: `sluice_config_valid{${DP},pod="a"}`, values: '1x20' },
      { series: `sluice_config_valid{${DP},pod="b"}`, values: '0x20' },
      { series: `sluice_config_info{${DP},pod="a",hash="h1"}`, values: '1x20' },
      { series: `sluice_config_info{${DP},pod="b",hash="h1"}`, values: '1x20' },
    ],
    evalTime: '15m',
    fires: {},
  },
  {
    name: 'replicas disagree on the config hash',
    alert: 'SluiceConfigNotProgrammed',
    series: [
      { series: `sluice_config_valid{${DP},pod="a"}`, values: '1x20' },
      { series: `sluice_config_info{${DP},pod="a",hash="h1"}`, values: '1x20' },
      { series: `sluice_config_info{${DP},pod="b",hash="h2"}`, values: '1x20' },
    ],
    evalTime: '15m',
    fires: {},
  },
  {
    name: 'the operator rejects resources',
    alert: 'SluiceConfigNotProgrammed',
    series: [
      { series: `sluice_config_valid{${DP},pod="a"}`, values: '1x20' },
      { series: `sluice_operator_objects{${OP},pod="o",kind="AIRoute",accepted="false"}`, values: '2x20' },
      { series: `sluice_operator_objects{${OP},pod="o",kind="AIRoute",accepted="true"}`, values: '5x20' },
    ],
    evalTime: '15m',
    fires: { kind: 'AIRoute' },
  },
  {
    name: 'every replica on the same valid config, every resource accepted',
    alert: 'SluiceConfigNotProgrammed',
    series: [
      { series: `sluice_config_valid{${DP},pod="a"}`, values: '1x20' },
      { series: `sluice_config_valid{${DP},pod="b"}`, values: '1x20' },
      { series: `sluice_config_info{${DP},pod="a",hash="h1"}`, values: '1x20' },
      { series: `sluice_config_info{${DP},pod="b",hash="h1"}`, values: '1x20' },
      { series: `sluice_operator_objects{${OP},pod="o",kind="AIRoute",accepted="false"}`, values: '0x20' },
      { series: `sluice_operator_objects{${OP},pod="o",kind="AIRoute",accepted="true"}`, values: '5x20' },
    ],
    evalTime: '15m',
  },
  {
    name: 'a config not programmed only briefly (shorter than `for`)',
    alert: 'SluiceConfigNotProgrammed',
    series: [{ series: `sluice_config_valid{${DP},pod="a"}`, values: '0 0 0 1x17' }],
    evalTime: '15m',
  },
  {
    name: 'Redis unreachable',
    alert: 'SluiceStoreUnavailable',
    series: [{ series: `sluice_store_healthy{${DP},pod="a"}`, values: '0x10' }],
    evalTime: '8m',
    fires: {},
  },
  {
    name: 'Redis reachable',
    alert: 'SluiceStoreUnavailable',
    series: [{ series: `sluice_store_healthy{${DP},pod="a"}`, values: '1x10' }],
    evalTime: '8m',
  },
  {
    name: 'no operator replica leads',
    alert: 'SluiceOperatorNoLeader',
    series: [
      { series: `sluice_operator_leader{${OP},pod="o1"}`, values: '0x10' },
      { series: `sluice_operator_leader{${OP},pod="o2"}`, values: '0x10' },
    ],
    evalTime: '8m',
    fires: {},
  },
  {
    name: 'no operator metrics at all',
    alert: 'SluiceOperatorNoLeader',
    series: [{ series: `sluice_config_valid{${DP},pod="a"}`, values: '1x10' }],
    evalTime: '8m',
    // absent() labels its result with the selector's equality matchers
    fires: { job: 'sluice-operator-metrics', namespace: 'sluice-system' },
  },
  {
    name: 'one operator replica leads',
    alert: 'SluiceOperatorNoLeader',
    series: [
      { series: `sluice_operator_leader{${OP},pod="o1"}`, values: '1x10' },
      { series: `sluice_operator_leader{${OP},pod="o2"}`, values: '0x10' },
    ],
    evalTime: '8m',
  },
  {
    name: 'reconciles keep failing',
    alert: 'SluiceOperatorReconcileErrors',
    series: [
      {
        series: `sluice_operator_reconcile_errors_total{${OP},pod="o1",controller="airoute"}`,
        values: '0+3x30',
      },
    ],
    evalTime: '25m',
    fires: { controller: 'airoute' },
    expands: { '{{ $labels.controller }}': 'airoute' },
  },
  {
    name: 'reconciles succeed',
    alert: 'SluiceOperatorReconcileErrors',
    series: [
      {
        series: `sluice_operator_reconcile_errors_total{${OP},pod="o1",controller="airoute"}`,
        values: '3x30',
      },
    ],
    evalTime: '25m',
  },
];

/** The annotations Prometheus must produce: the rule's templates with the values these series give. */
function expandAnnotations(rule: Rule, expands: Record<string, string> = {}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, template] of Object.entries(rule.annotations ?? {})) {
    let text = template;
    for (const [from, to] of Object.entries(expands)) text = text.replaceAll(from, to);
    if (text.includes('{{'))
      throw new Error(`${rule.alert}.${k}: no expected value for a template in ${text}`);
    out[k] = text;
  }
  return out;
}

let dir: string;
let rulesFile: string;
let rules: Map<string, Rule>;
let promtool: string;

beforeAll(async () => {
  promtool = requirePrometheusTool('promtool');
  const rule = one(await render(ALL_TOGGLES_ON, { apiVersions: [MONITORING_API] }), 'PrometheusRule');
  dir = mkdtempSync(join(tmpdir(), 'sluice-promtool-'));
  rulesFile = join(dir, 'rules.yaml');
  // a PrometheusRule's spec is a Prometheus rule file
  writeFileSync(rulesFile, stringify(get(rule, 'spec')));
  rules = new Map(
    getArray(rule, 'spec.groups')
      .flatMap((g) => getArray(g, 'rules') as Rule[])
      .filter((r) => r.alert)
      .map((r) => [r.alert as string, r]),
  );
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('PrometheusRule on Prometheus', () => {
  it('promtool check rules accepts the rendered rule groups', () => {
    const r = spawnSync(promtool, ['check', 'rules', rulesFile], { encoding: 'utf8' });
    expect(r.stderr + r.stdout).toMatch(/SUCCESS: \d+ rules found/);
    expect(r.status).toBe(0);
  });

  it('has a firing and a not-firing case for every alert', () => {
    for (const alert of rules.keys()) {
      expect(
        CASES.some((c) => c.alert === alert && c.fires),
        `${alert} fires`,
      ).toBe(true);
      expect(
        CASES.some((c) => c.alert === alert && !c.fires),
        `${alert} stays quiet`,
      ).toBe(true);
    }
  });

  it('promtool test rules: each alert fires on its series, with its labels and expanded annotations, and only then', () => {
    const tests = CASES.map((c) => {
      const rule = rules.get(c.alert);
      if (!rule) throw new Error(`no alert ${c.alert} in the rendered PrometheusRule`);
      return {
        name: `${c.alert}: ${c.name}`,
        interval: '1m',
        input_series: c.series,
        alert_rule_test: [
          {
            eval_time: c.evalTime,
            alertname: c.alert,
            exp_alerts: c.fires
              ? [
                  {
                    exp_labels: { ...rule.labels, ...c.fires },
                    exp_annotations: expandAnnotations(rule, c.expands),
                  },
                ]
              : [],
          },
        ],
      };
    });
    const testFile = join(dir, 'tests.yaml');
    writeFileSync(testFile, stringify({ rule_files: [rulesFile], evaluation_interval: '1m', tests }));
    const r = spawnSync(promtool, ['test', 'rules', testFile], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).toContain('SUCCESS');
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });

  it('promtool test rules fails a case whose expectation is wrong (the harness can fail)', () => {
    const rule = rules.get('SluiceHighErrorRate') as Rule;
    const testFile = join(dir, 'wrong.yaml');
    writeFileSync(
      testFile,
      stringify({
        rule_files: [rulesFile],
        tests: [
          {
            interval: '1m',
            input_series: CASES[1]?.series, // 1% errors
            alert_rule_test: [
              {
                eval_time: '15m',
                alertname: 'SluiceHighErrorRate',
                exp_alerts: [
                  { exp_labels: rule.labels, exp_annotations: expandAnnotations(rule, CASES[0]?.expands) },
                ],
              },
            ],
          },
        ],
      }),
    );
    const r = spawnSync(promtool, ['test', 'rules', testFile], { encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/FAILED/);
  });
});
