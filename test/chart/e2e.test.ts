// The installed chart's RBAC is enough, not just small: after `helm install` into a real
// kube-apiserver, the real operator and dataplane run with their release ServiceAccounts' tokens and
// the Deployments' own arguments, and a resource goes all the way to Programmed=True (which the
// ArgoCD health check then calls Healthy) while the dataplane serves it through the shared Redis.
//
// Pods cannot run here (no nodes), so this test stands in for kubelet: the operator runs in this
// process (its CLI flags map 1:1 to these options; cli-contract.test.ts checks the flags) with its
// metrics on loopback, and the dataplane runs as a `sluice serve` process with the ConfigMap and
// Secret laid out in a temp folder as the pod's volumes would be.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { Operator } from '../../operator/src/controller/operator.ts';
import { readBaseConfig } from '../../operator/src/offline.ts';
import { type ControlPlane, startControlPlane } from '../envtest/controlplane.ts';
import { NODE_BIN } from '../helpers/dataplane.ts';
import { type RedisServer, startRedis } from '../helpers/redis.ts';
import {
  CHART_DIR,
  get,
  getArray,
  HELM,
  type K8sObject,
  REPO_ROOT,
  requireTool,
  run,
  valuesFile,
} from './helm.ts';
import { runHealth } from './lua.ts';

const NS = 'sluice-system';
const TENANT_NS = 'team-a';

let cp: ControlPlane;
let redis: RedisServer;
let dir: string;
let operator: Operator | undefined;
let dataplane: ChildProcess | undefined;
let dataplaneLogs = '';

async function kubectl(args: string[], input?: string): Promise<string> {
  const r = await cp.kubectl(args, input);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

async function getObj(args: string[]): Promise<K8sObject> {
  return JSON.parse(await kubectl(['get', ...args, '-o', 'json'])) as K8sObject;
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}\n${dataplaneLogs}`);
}

/** A kubeconfig that authenticates as a release ServiceAccount (a TokenRequest token). */
async function kubeconfigFor(sa: string): Promise<string> {
  const token = (await kubectl(['create', 'token', sa, '-n', NS, '--duration=1h'])).trim();
  const admin = parse(readFileSync(cp.kubeconfigPath, 'utf8')) as { clusters: unknown[] };
  const path = join(dir, `${sa}.kubeconfig`);
  writeFileSync(
    path,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: admin.clusters,
      users: [{ name: sa, user: { token } }],
      contexts: [{ name: sa, context: { cluster: get(admin, 'clusters.0.name'), user: sa } }],
      'current-context': sa,
    }),
  );
  return path;
}

function argValue(args: unknown[], flag: string): string | undefined {
  const hit = args.find((a) => typeof a === 'string' && a.startsWith(`${flag}=`));
  return typeof hit === 'string' ? hit.slice(flag.length + 1) : undefined;
}

beforeAll(async () => {
  requireTool(HELM);
  dir = mkdtempSync(join(tmpdir(), 'sluice-e2e-'));
  [cp, redis] = await Promise.all([startControlPlane(), startRedis()]);
  await kubectl(['create', 'namespace', NS]);
  await kubectl(['create', 'namespace', TENANT_NS]);
  const vf = valuesFile({ operator: { watchNamespaces: [TENANT_NS] }, redis: { url: redis.url } });
  try {
    const r = await run(
      HELM,
      ['install', 'sluice', CHART_DIR, '-n', NS, '-f', vf.path, '--kubeconfig', cp.kubeconfigPath],
      { timeoutMs: 120_000 },
    );
    if (r.code !== 0) throw new Error(`helm install failed: ${r.stderr}`);
  } finally {
    vf.cleanup();
  }
}, 180_000);

afterAll(async () => {
  if (dataplane && dataplane.exitCode === null) {
    const exited = new Promise((r) => dataplane?.once('exit', r));
    dataplane.kill('SIGTERM');
    await exited;
  }
  await operator?.stop();
  await cp?.stop();
  await redis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('operator and dataplane with the chart RBAC', () => {
  it('the operator, as its ServiceAccount, renders the tenant resources with the chart base config', async () => {
    const deploy = await getObj(['deploy', 'sluice-operator', '-n', NS]);
    const args = getArray(deploy, 'spec.template.spec.containers.0.args');
    // The base config as the operator pod mounts it.
    const baseCm = await getObj(['configmap', 'sluice-dataplane-base', '-n', NS]);
    const baseFile = join(dir, 'base.yaml');
    writeFileSync(baseFile, (get(baseCm, 'data') as Record<string, string>)['base.yaml'] ?? '');
    const kc = new KubeConfig();
    kc.loadFromFile(await kubeconfigFor('sluice-operator'));
    const ownerName = argValue(args, '--owner-deployment')!;
    operator = new Operator({
      kc,
      log: pino({ level: 'silent' }),
      namespaces: argValue(args, '--namespaces')?.split(','),
      secretNamespaces: argValue(args, '--secret-namespaces')?.split(','),
      outputNamespace: argValue(args, '--output-namespace')!,
      configMapName: argValue(args, '--config-map'),
      secretName: argValue(args, '--secret'),
      // Mount paths become this test's folders (kubelet's job); everything else is the chart's.
      secretsDir: join(dir, 'secrets'),
      base: await readBaseConfig(baseFile),
      owner: {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        name: ownerName,
        uid: String(get(deploy, 'metadata.uid')),
      },
      leaderElect: args.includes('--leader-elect'),
      leaseName: argValue(args, '--lease-name'),
      metricsPort: 0,
      metricsHost: '127.0.0.1',
      debounceMs: 50,
      programmedResyncMs: 500,
    });
    await operator.start();

    await kubectl(
      ['apply', '-n', TENANT_NS, '-f', '-'],
      [
        'apiVersion: gateway.sluice.dev/v1alpha1',
        'kind: AIProvider',
        'metadata: { name: mock }',
        'spec: { type: mock, models: [{ name: mock-small }] }',
        '---',
        'apiVersion: gateway.sluice.dev/v1alpha1',
        'kind: AIRoute',
        'metadata: { name: chat }',
        'spec: { match: { models: [mock-small] }, backends: [{ providerRef: { name: mock } }] }',
        '---',
        // the chart renders `access: tenants`: callers without a key are served only by an explicit
        // default tenant
        'apiVersion: gateway.sluice.dev/v1alpha1',
        'kind: AINamespace',
        'metadata: { name: anyone }',
        'spec: { default: true }',
      ].join('\n'),
    );
    const cm = await until('the rendered ConfigMap', async () => {
      const r = await cp.kubectl(['get', 'configmap', 'sluice-dataplane-config', '-n', NS, '-o', 'json']);
      return r.code === 0 ? (JSON.parse(r.stdout) as K8sObject) : undefined;
    });
    expect(get(cm, 'metadata.ownerReferences.0')).toMatchObject({
      kind: 'Deployment',
      name: 'sluice-operator',
    });
    const config = parse((get(cm, 'data') as Record<string, string>)['config.yaml'] ?? '') as Record<
      string,
      unknown
    >;
    expect(get(config, 'store.redis.url')).toBe(redis.url);
    expect(get(config, 'server.drainTimeoutMs')).toBe(60_000);
    expect(argValue(args, '--secrets-dir')).toBe('/etc/sluice/secrets');
    expect(get(config, 'server.secretsDir')).toBe(join(dir, 'secrets'));
    expect(getArray(config, 'routes')).toHaveLength(1);
    const provider = await getObj(['aiprovider', 'mock', '-n', TENANT_NS]);
    const accepted = getArray(provider, 'status.conditions').find((c) => get(c, 'type') === 'Accepted');
    expect(get(accepted, 'status')).toBe('True');
  }, 60_000);

  it('the dataplane, as its ServiceAccount, serves the rendered config and reports it; the resource becomes Programmed', async () => {
    const deploy = await getObj(['deploy', 'sluice-dataplane', '-n', NS]);
    const args = getArray(deploy, 'spec.template.spec.containers.0.args').map(String);
    // The pod's volumes: the ConfigMap and the operator's Secret, as kubelet would lay them out.
    const cm = await getObj(['configmap', 'sluice-dataplane-config', '-n', NS]);
    const secret = await getObj(['secret', 'sluice-dataplane-secrets', '-n', NS]);
    const secretsDir = join(dir, 'secrets');
    mkdirSync(secretsDir);
    for (const [k, v] of Object.entries((get(secret, 'data') as Record<string, string> | undefined) ?? {}))
      writeFileSync(join(secretsDir, k), Buffer.from(v, 'base64'));
    // The ConfigMap's text as is: the dataplane's config hash must equal the operator's.
    const configFile = join(dir, 'config.yaml');
    writeFileSync(configFile, (get(cm, 'data') as Record<string, string>)['config.yaml'] ?? '');

    const argv = args.map((a) => (a.startsWith('--config=') ? `--config=${configFile}` : a));
    expect(argv).toContain('--report-lease');
    dataplane = spawn(NODE_BIN, [join(REPO_ROOT, 'bin/sluice.js'), ...argv], {
      env: {
        ...process.env,
        HOST: '127.0.0.1',
        PORT: '0',
        POD_NAME: 'sluice-dataplane-e2e-0',
        POD_NAMESPACE: NS,
        KUBECONFIG: await kubeconfigFor('sluice-dataplane'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    dataplane.stdout?.on('data', (d: Buffer) => {
      dataplaneLogs += d.toString();
    });
    dataplane.stderr?.on('data', (d: Buffer) => {
      dataplaneLogs += d.toString();
    });
    const address = await until('the dataplane to listen', async () => {
      const m = /"address":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(dataplaneLogs);
      return m?.[1];
    });
    const res = await fetch(`${address}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'mock-small', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(((await res.json()) as { object: string }).object).toBe('chat.completion');

    // Its Lease, written with the dataplane's own token, carries the hash the operator rendered.
    const lease = await until('the replica Lease', async () => {
      const list = await getObj(['lease', '-n', NS, '-l', 'gateway.sluice.dev/replica-report=true']);
      const items = (list.items as K8sObject[] | undefined) ?? [];
      return items.find((l) => get(l, 'spec.holderIdentity') === 'sluice-dataplane-e2e-0');
    });
    const renderedHash = cm.metadata.annotations?.['gateway.sluice.dev/config-hash'];
    expect(renderedHash).toMatch(/\w{8,}/);
    expect(lease.metadata.annotations?.['gateway.sluice.dev/config-hash']).toBe(renderedHash);

    const programmed = await until('Programmed=True on the AIProvider', async () => {
      const p = await getObj(['aiprovider', 'mock', '-n', TENANT_NS]);
      const c = getArray(p, 'status.conditions').find((x) => get(x, 'type') === 'Programmed');
      return get(c, 'status') === 'True' ? p : undefined;
    });
    const cond = getArray(programmed, 'status.conditions').find((x) => get(x, 'type') === 'Programmed');
    expect(get(cond, 'observedGeneration')).toBe(get(programmed, 'metadata.generation'));
    // ...which is what the ArgoCD health check calls Healthy.
    const health = await runHealth(
      readFileSync(join(REPO_ROOT, 'config/argocd/health.lua'), 'utf8'),
      [programmed],
      dir,
    );
    expect(health[0]?.[0]).toBe('Healthy');
    expect(dataplaneLogs).not.toMatch(/forbidden/i);
  }, 60_000);

  it('the dataplane deletes its Lease on SIGTERM (its Role allows it)', async () => {
    const exited = new Promise<number | null>((r) => dataplane?.once('exit', (code) => r(code)));
    dataplane?.kill('SIGTERM');
    expect(await exited).toBe(0);
    const list = await getObj(['lease', '-n', NS, '-l', 'gateway.sluice.dev/replica-report=true']);
    expect(list.items).toEqual([]);
    expect(dataplaneLogs).not.toContain('cannot delete replica lease');
  }, 30_000);
});
