// Helpers for the chart tests: run the real `helm` / `kubectl` built by scripts/install-tools.sh,
// render the chart with a values object, and pick objects out of the rendered manifests.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';

export const REPO_ROOT = resolve(import.meta.dirname, '../..');
export const CHART_DIR = join(REPO_ROOT, 'charts/sluice');
export const TOOLS_BIN = process.env.TOOLS_BIN ?? join(REPO_ROOT, '.tools/bin');
export const HELM = join(TOOLS_BIN, 'helm');
export const KUBECTL = join(TOOLS_BIN, 'kubectl');
export const MONITORING_API = 'monitoring.coreos.com/v1';

/** Fails with the fix when a tool the suite needs was not installed (never skips silently). */
export function requireTool(path: string): string {
  if (!existsSync(path))
    throw new Error(`${path} is missing: run \`bash scripts/install-tools.sh\` (CI's .ci/run does) first`);
  return path;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(
  file: string,
  args: string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolvePromise) => {
    const child = execFile(
      file,
      args,
      {
        cwd: opts.cwd ?? REPO_ROOT,
        env: { ...process.env, ...opts.env },
        timeout: opts.timeoutMs ?? 120_000,
        maxBuffer: 64 * 1024 * 1024,
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolvePromise({ code, stdout, stderr });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Runs and throws with stderr when the command fails. */
export async function runOk(file: string, args: string[], opts: Parameters<typeof run>[2] = {}) {
  const r = await run(file, args, opts);
  if (r.code !== 0) throw new Error(`${file} ${args.join(' ')} exited ${r.code}:\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** Writes values to a temp file for `-f`; returns the path and a cleanup. */
export function valuesFile(values: unknown): { path: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-chart-'));
  const path = join(dir, 'values.yaml');
  writeFileSync(path, stringify(values));
  return { path, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [key: string]: unknown;
}

/** The value at a dotted path ("spec.template.spec.containers.0.args"), or undefined. */
export function get(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const key of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = Array.isArray(cur) ? cur[Number(key)] : (cur as Record<string, unknown>)[key];
  }
  return cur;
}

export function getArray(obj: unknown, path: string): unknown[] {
  const v = get(obj, path);
  if (!Array.isArray(v)) throw new Error(`${path} is not an array: ${JSON.stringify(v)}`);
  return v;
}

export function getString(obj: unknown, path: string): string {
  const v = get(obj, path);
  if (typeof v !== 'string') throw new Error(`${path} is not a string: ${JSON.stringify(v)}`);
  return v;
}

export function parseManifests(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((d) => {
      if (d.errors.length) throw new Error(`invalid YAML in rendered chart: ${d.errors[0]?.message}`);
      return d.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null && typeof o === 'object');
}

export interface RenderOptions {
  release?: string;
  namespace?: string;
  apiVersions?: string[];
  extraArgs?: string[];
}

/** `helm template` → raw text (throws on failure). */
export async function renderText(values: unknown = {}, opts: RenderOptions = {}): Promise<string> {
  const vf = valuesFile(values);
  try {
    const args = [
      'template',
      opts.release ?? 'sluice',
      CHART_DIR,
      '--namespace',
      opts.namespace ?? 'sluice-system',
    ];
    args.push('-f', vf.path);
    for (const v of opts.apiVersions ?? []) args.push('--api-versions', v);
    args.push(...(opts.extraArgs ?? []));
    return await runOk(requireTool(HELM), args);
  } finally {
    vf.cleanup();
  }
}

export async function render(values: unknown = {}, opts: RenderOptions = {}): Promise<K8sObject[]> {
  return parseManifests(await renderText(values, opts));
}

/** `helm template` expected to fail: resolves with the error text. */
export async function renderError(values: unknown, opts: RenderOptions = {}): Promise<string> {
  const vf = valuesFile(values);
  try {
    const args = [
      'template',
      'sluice',
      CHART_DIR,
      '--namespace',
      opts.namespace ?? 'sluice-system',
      '-f',
      vf.path,
    ];
    const r = await run(requireTool(HELM), args);
    if (r.code === 0) throw new Error(`expected helm template to fail for ${JSON.stringify(values)}`);
    return r.stderr;
  } finally {
    vf.cleanup();
  }
}

export function find(objs: K8sObject[], kind: string, name?: string): K8sObject[] {
  return objs.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
}

export function one(objs: K8sObject[], kind: string, name?: string): K8sObject {
  const found = find(objs, kind, name);
  if (found.length !== 1)
    throw new Error(
      `expected exactly one ${kind}${name ? ` ${name}` : ''}, found ${found.length}: ${objs.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`,
    );
  return found[0]!;
}

/** Every toggle the chart has, switched on (monitoring needs --api-versions or the real CRDs). */
export const ALL_TOGGLES_ON = {
  operator: { watchNamespaces: ['team-a', 'team-b'] },
  dataplane: {
    autoscaling: { enabled: true, inflightRequests: { enabled: true, averageValue: '40' } },
    podDisruptionBudget: { enabled: true },
    extraEnv: [{ name: 'EXTRA', value: '1' }],
  },
  redis: { url: 'redis://redis.sluice-system.svc:6379', password: 's3cret', keyPrefix: 'gw:' },
  ingress: {
    enabled: true,
    className: 'nginx',
    annotations: { 'cert-manager.io/cluster-issuer': 'letsencrypt' },
    hosts: [{ host: 'llm.example.com', paths: [{ path: '/', pathType: 'Prefix' }] }],
    tls: [{ secretName: 'llm-tls', hosts: ['llm.example.com'] }],
  },
  networkPolicy: {
    enabled: true,
    dataplane: {
      ingressFrom: [
        { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } },
      ],
      egress: [{ to: [{ ipBlock: { cidr: '0.0.0.0/0' } }], ports: [{ port: 443, protocol: 'TCP' }] }],
    },
    operator: { metricsFrom: [{ namespaceSelector: { matchLabels: { name: 'monitoring' } } }] },
  },
  monitoring: {
    serviceMonitor: { enabled: true, labels: { release: 'kube-prometheus-stack' } },
    prometheusRule: { enabled: true, labels: { release: 'kube-prometheus-stack' } },
    dashboard: { enabled: true },
  },
};

/** The container `name` of a Deployment's pod template. */
export function container(deploy: K8sObject, name: string): Record<string, unknown> {
  const c = getArray(deploy, 'spec.template.spec.containers').find((x) => get(x, 'name') === name);
  if (!c || typeof c !== 'object') throw new Error(`no container ${name}`);
  return c as Record<string, unknown>;
}

/** The value of `--flag=value` among a container's args. */
export function argValue(args: unknown[], flag: string): string | undefined {
  const hit = args.find((a) => typeof a === 'string' && a.startsWith(`${flag}=`));
  return typeof hit === 'string' ? hit.slice(flag.length + 1) : undefined;
}
