// Shared by the API-server fault suites: the rendered objects' resourceVersions, the operator's own
// /metrics read back, and a logger that keeps the operator's log lines for assertions.
import { Writable } from 'node:stream';
import { type Logger, pino } from 'pino';
import { parseConfigText, validateConfig } from '../../dataplane/src/config/load.ts';
import type { KubeRest } from '../../kube/kube_rest.ts';
import type { Operator } from '../../operator/src/controller/operator.ts';
import { type ConfigMap, cmPath, get, secretPath } from './helpers.ts';

/** The operator's informers, by the `resource` label of its metrics. */
/** What the operator watches (Secrets are not watched: read by name, see secret_reads.ts). */
export const RESOURCES = ['aiproviders', 'airoutes', 'ainamespaces', 'aipolicies', 'leases'];

export async function outputVersions(rest: KubeRest): Promise<{ cm?: string; secret?: string }> {
  return {
    cm: (await get<ConfigMap>(rest, cmPath))?.metadata.resourceVersion,
    secret: (await get<ConfigMap>(rest, secretPath))?.metadata.resourceVersion,
  };
}

/** The rendered route names and their models, from the live ConfigMap. */
export async function renderedRoutes(rest: KubeRest): Promise<Record<string, string[]>> {
  const text = (await get<ConfigMap>(rest, cmPath))?.data?.['config.yaml'];
  if (!text) return {};
  const cfg = validateConfig(parseConfigText(text, 'config.yaml'));
  return Object.fromEntries(cfg.routes.map((r) => [r.name, r.match.models ?? []]));
}

/** Sum of a metric's samples (optionally only those with resource="..."), scraped from /metrics. */
export async function scrape(op: Operator, name: string, resource?: string): Promise<number> {
  const base = op.metricsAddress;
  if (!base) throw new Error('operator started without a metrics port');
  const text = await (await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = line.match(/^([a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$/);
    if (!m || m[1] !== name) continue;
    if (resource !== undefined && !m[2]?.includes(`resource="${resource}"`)) continue;
    sum += Number(m[3]);
  }
  return sum;
}

export async function health(op: Operator, path: '/healthz' | '/readyz'): Promise<number> {
  const res = await fetch(`${op.metricsAddress}${path}`, { signal: AbortSignal.timeout(5_000) });
  return res.status;
}

export interface LogLine {
  level: number;
  msg: string;
  informer?: string;
  [k: string]: unknown;
}

/** A pino logger whose lines (JSON-parsed) land in `lines`. */
export function capturingLogger(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as LogLine);
      done();
    },
  });
  return { log: pino({ level: 'info' }, sink), lines };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
