// The Grafana dashboard against real data: a real Prometheus (Debian's package) scrapes a real
// `sluice serve` every second while traffic goes through it (successes, 5xx errors, limit rejections,
// fallbacks, streams, a stream cut by a token window, reloads), then every panel's query is evaluated
// through Prometheus' HTTP API as Grafana would send it: no query may error, and every panel shows
// data for the traffic that was sent. The scrape carries the labels a ServiceMonitor target has (job,
// namespace) and the same metric relabelling (tenant `namespace` -> `sluice_namespace`).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type FakeOpenAI, startFakeOpenAI } from '../fakes/openai.ts';
import {
  configDir,
  type DataplaneProcess,
  spawnDataplane,
  type TestConfigDir,
} from '../helpers/dataplane.ts';
import { freePort } from '../helpers/redis.ts';
import { UPSTREAM_KEY } from '../helpers/secrets.ts';
import { sha256 } from '../policy/fixtures.ts';
import { CHART_DIR } from './helm.ts';
import { requirePrometheusTool } from './prometheus.ts';

const JOB = 'sluice-dataplane';
const K8S_NAMESPACE = 'sluice-system';
const SCRAPE_SECONDS = 1;
// Grafana's $__rate_interval: max(4 x scrape interval, query step + scrape interval)
const RATE_INTERVAL = `${4 * SCRAPE_SECONDS + 6}s`;

// Panels whose right value under this traffic may be 0 (state, not traffic): they must still answer.
const MAY_BE_ZERO = new Set([
  'In-flight requests',
  'Circuit state (0 closed, 1 open, 2 half-open)',
  'Replicas serving an old config',
]);

interface Panel {
  title: string;
  type: string;
  targets?: Array<{ expr: string; refId?: string }>;
}

interface QueryResult {
  status: string;
  error?: string;
  data?: { resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> };
}

let fake: FakeOpenAI;
let cfg: TestConfigDir;
let dp: DataplaneProcess;
let prometheus: ChildProcess | undefined;
let promUrl: string;
let promDir: string;
let panels: Panel[];
let templating: Array<{ name: string; query?: { query?: string } }>;
const promLogs: string[] = [];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function chat(body: Record<string, unknown>, key?: string, path = '/v1/chat/completions') {
  const res = await fetch(`${dp.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify(body),
  });
  await res.text(); // streams included: read to the end
  return res.status;
}

async function promQuery(expr: string): Promise<QueryResult> {
  const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
  return (await res.json()) as QueryResult;
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await sleep(250);
  }
  throw new Error(`timed out waiting for ${what}\n${promLogs.join('').slice(-3000)}`);
}

/** One round of every kind of traffic the dashboard shows. */
async function trafficRound(round: number): Promise<number[]> {
  const hello = [{ role: 'user', content: 'hello' }];
  const statuses = await Promise.all([
    chat({ model: 'gpt-4o-mini', messages: hello }),
    chat({ model: 'gpt-4o-mini', messages: hello, stream: true }),
    chat({ model: 'gpt-4o-mini', max_tokens: 64, messages: hello }, undefined, '/v1/messages'),
    chat({ model: 'flaky-model', messages: hello }), // upstream 503, then the fallback answers
    chat({ model: 'broken-model', messages: hello }), // upstream 500 on every try: a 5xx to the client
    // a stream of 40 tokens against a 30-token-per-second window: cut, then refused
    chat({ model: 'gpt-4o-mini', max_tokens: 100, stream: true, messages: hello }, 'sk-window'),
  ]);
  statuses.push(await chat({ model: 'gpt-4o-mini', messages: hello }, 'sk-window'));
  // one request per second for this tenant: the second and third are rejected
  for (let i = 0; i < 3; i++)
    statuses.push(await chat({ model: 'gpt-4o-mini', messages: hello }, 'sk-limited'));
  // a config change every other round: the reload panel's data (the spend panel sees the new price)
  if (round % 2 === 1) cfg.write(dataplaneConfig(1 + round));
  return statuses;
}

/** Tenants with a token window and a request limit; routes that fall back and that fail. */
function dataplaneConfig(inputPrice: number): Record<string, unknown> {
  const tenant = (name: string, policies: string[]) => ({
    name,
    match: { apiKeys: [{ name, sha256: sha256(`sk-${name}`) }] },
    policies,
  });
  return {
    providers: [
      {
        name: 'upstream',
        type: 'openai',
        baseUrl: `${fake.url}/v1`,
        credentials: { apiKey: { env: 'SLUICE_TEST_KEY' } },
        healthCheck: { path: '/models', intervalMs: 500 },
        circuitBreaker: { consecutiveFailures: 1000 },
        models: [{ name: 'flaky-model' }, { name: 'broken-model' }],
      },
      {
        name: 'mock',
        type: 'mock',
        models: [{ name: 'gpt-4o-mini', pricing: { inputPerMTok: inputPrice, outputPerMTok: 4 } }],
        mock: { outputTokens: 40, chunkTokens: 1, chunkDelayMs: 1 },
      },
    ],
    routes: [
      { name: 'chat', match: { models: ['gpt-4o-mini'] }, backends: [{ provider: 'mock' }] },
      {
        name: 'flaky',
        match: { models: ['flaky-model'] },
        backends: [{ provider: 'upstream' }],
        fallback: [{ provider: 'mock', model: 'gpt-4o-mini' }],
        retry: { attempts: 1, baseDelayMs: 1 },
      },
      {
        name: 'broken',
        match: { models: ['broken-model'] },
        backends: [{ provider: 'upstream' }],
        retry: { attempts: 0 },
      },
    ],
    namespaces: [
      { name: 'open', default: true },
      tenant('window', ['tokens-30']),
      tenant('limited', ['one-per-second']),
    ],
    policies: [
      { name: 'tokens-30', tokens: [{ limit: 30, window: 'second', kind: 'total' }] },
      { name: 'one-per-second', requests: { limit: 1, window: 'second' } },
    ],
  };
}

beforeAll(async () => {
  requirePrometheusTool('prometheus');
  // the file the chart's dashboard ConfigMap embeds as is (templates/monitoring/dashboard.yaml)
  const dashboard = JSON.parse(readFileSync(join(CHART_DIR, 'dashboards/sluice.json'), 'utf8')) as {
    panels: Panel[];
    templating: { list: typeof templating };
  };
  panels = dashboard.panels.filter((p) => p.type !== 'row');
  templating = dashboard.templating.list;

  fake = await startFakeOpenAI({ name: 'upstream', apiKey: UPSTREAM_KEY });
  fake.setFault((req) => {
    const model = req.body?.model;
    if (model === 'flaky-model') return { status: 503 };
    if (model === 'broken-model') return { status: 500 };
    return {};
  });
  cfg = configDir(dataplaneConfig(1));
  dp = await spawnDataplane(cfg.file, { SLUICE_LOG_LEVEL: 'info' }, 60_000);
  // /metrics is served on the admin port (server.admin), not the API port
  const metrics = await fetch(`${dp.adminUrl}/metrics`);
  if (metrics.status !== 200) throw new Error(`no /metrics at ${dp.adminUrl}: ${metrics.status}`);
  await metrics.text();

  promDir = mkdtempSync(join(tmpdir(), 'sluice-prometheus-'));
  const port = await freePort();
  promUrl = `http://127.0.0.1:${port}`;
  writeFileSync(
    join(promDir, 'prometheus.yml'),
    stringify({
      global: { scrape_interval: `${SCRAPE_SECONDS}s`, evaluation_interval: `${SCRAPE_SECONDS}s` },
      scrape_configs: [
        {
          job_name: JOB,
          scrape_interval: `${SCRAPE_SECONDS}s`,
          scrape_timeout: `${SCRAPE_SECONDS}s`,
          static_configs: [{ targets: [new URL(dp.adminUrl).host], labels: { namespace: K8S_NAMESPACE } }],
          // what the chart's ServiceMonitor does with the tenant label that collides with `namespace`
          metric_relabel_configs: [
            {
              source_labels: ['exported_namespace'],
              target_label: 'sluice_namespace',
              regex: '(.+)',
              action: 'replace',
            },
            { regex: 'exported_namespace', action: 'labeldrop' },
          ],
        },
      ],
    }),
  );
  prometheus = spawn(
    'prometheus',
    [
      `--config.file=${join(promDir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(promDir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  prometheus.stdout?.on('data', (d: Buffer) => promLogs.push(d.toString()));
  prometheus.stderr?.on('data', (d: Buffer) => promLogs.push(d.toString()));
  await waitFor('Prometheus ready', async () => (await fetch(`${promUrl}/-/ready`)).status === 200, 30_000);
  await waitFor(
    'the first scrape',
    async () => ((await promQuery(`up{job="${JOB}"}`)).data?.result[0]?.value[1] ?? '0') === '1',
    15_000,
  );

  const seen = new Set<number>();
  for (let round = 0; round < 8; round++) {
    for (const s of await trafficRound(round)) seen.add(s);
    await sleep(1_100); // a new token and request window for the tenants, and a scrape between rounds
  }
  // the traffic really had every outcome the dashboard shows
  expect([...seen].sort()).toEqual(expect.arrayContaining([200, 429, 502]));
  await sleep(3 * SCRAPE_SECONDS * 1000); // the last round scraped
}, 180_000);

afterAll(async () => {
  if (prometheus && prometheus.exitCode === null) {
    prometheus.kill('SIGTERM');
    await new Promise((r) => prometheus?.once('exit', r));
  }
  await dp?.stop();
  await fake?.close();
  cfg?.cleanup();
  if (promDir) rmSync(promDir, { recursive: true, force: true });
});

/** The query text Grafana sends, with its variables set to this scrape's job and namespace. */
function asGrafanaSends(expr: string): string {
  return expr
    .replaceAll('$__rate_interval', RATE_INTERVAL)
    .replaceAll('$__range', '5m')
    .replaceAll('$job', JOB)
    .replaceAll('$namespace', K8S_NAMESPACE);
}

describe('Grafana dashboard on a real Prometheus scraping a real sluice serve', () => {
  it('the scrape carries the ServiceMonitor labels (job, namespace, tenant as sluice_namespace)', async () => {
    const r = await promQuery(`sluice_requests_total{job="${JOB}",namespace="${K8S_NAMESPACE}"}`);
    const tenants = new Set(r.data?.result.map((s) => s.metric.sluice_namespace));
    expect(tenants).toEqual(new Set(['open', 'window', 'limited']));
    expect(r.data?.result.every((s) => s.metric.exported_namespace === undefined)).toBe(true);
  });

  it("the dashboard's variables find this job and namespace", async () => {
    for (const v of templating.filter((t) => t.query?.query)) {
      const m = /^label_values\((.+), (\w+)\)$/.exec(v.query?.query ?? '');
      expect(m, v.name).not.toBeNull();
      const [, selector = '', label = ''] = m ?? [];
      const res = await fetch(
        `${promUrl}/api/v1/label/${label}/values?match[]=${encodeURIComponent(asGrafanaSends(selector))}`,
      );
      const body = (await res.json()) as { status: string; data: string[] };
      expect(body.status).toBe('success');
      expect(body.data).toContain(label === 'job' ? JOB : K8S_NAMESPACE);
    }
  });

  it('every panel query runs without error and shows the traffic that was sent', async () => {
    const problems: string[] = [];
    let queries = 0;
    for (const panel of panels) {
      expect(panel.targets?.length, `panel "${panel.title}" has no query`).toBeGreaterThan(0);
      for (const t of panel.targets ?? []) {
        const expr = asGrafanaSends(t.expr);
        const r = await promQuery(expr);
        queries++;
        if (r.status !== 'success') {
          problems.push(`"${panel.title}": ${r.error} in ${expr}`);
          continue;
        }
        const values = (r.data?.result ?? []).map((s) => Number(s.value[1]));
        if (values.length === 0) problems.push(`"${panel.title}": no data for ${expr}`);
        else if (values.some((v) => !Number.isFinite(v)))
          problems.push(`"${panel.title}": ${values} for ${expr}`);
        else if (!MAY_BE_ZERO.has(panel.title) && !values.some((v) => v > 0))
          problems.push(`"${panel.title}": only zeros for ${expr}`);
      }
    }
    expect(problems).toEqual([]);
    expect(queries).toBeGreaterThan(20);
  });

  it('panels show what happened, not just something: errors, rejections, fallbacks, truncations, reloads', async () => {
    const value = async (expr: string) => Number((await promQuery(expr)).data?.result[0]?.value[1] ?? 'NaN');
    const sel = `job="${JOB}",namespace="${K8S_NAMESPACE}"`;
    expect(
      await value(`sum(increase(sluice_requests_total{${sel},status="502",route="broken"}[5m]))`),
    ).toBeGreaterThan(0);
    expect(
      await value(`sum(increase(sluice_limit_rejections_total{${sel},sluice_namespace="limited"}[5m]))`),
    ).toBeGreaterThan(0);
    expect(
      await value(`sum(increase(sluice_fallbacks_total{${sel},route="flaky",to_provider="mock"}[5m]))`),
    ).toBeGreaterThan(0);
    expect(
      await value(`sum(increase(sluice_stream_truncations_total{${sel},sluice_namespace="window"}[5m]))`),
    ).toBeGreaterThan(0);
    expect(
      await value(`sum(increase(sluice_config_reloads_total{${sel},result="success"}[5m]))`),
    ).toBeGreaterThan(0);
    expect(await value(`min(sluice_provider_healthy{${sel},provider="upstream"})`)).toBe(1);
  });
});
