// The offline (GitOps CI) path shared by `sluice render` and `sluice validate -f`: read manifests,
// validate every Sluice object against its CRD schema and CEL rules (with defaults applied, as the
// API server would store it), then render with the operator's own renderer to check references.
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { ConfigError, type SluiceConfigInput, validateConfig } from '../../dataplane/src/config/contract.ts';
import { inventoryOf, isSluiceResource, type Manifest, readManifests } from './render/manifests.ts';
import { renderChecked } from './render/preflight.ts';
import type { RenderResult } from './render/render.ts';
import type { RenderOptions } from './render/types.ts';
import { validateResource } from './validate/validate_cr.ts';

export interface OfflineIssue {
  /** file[#document] the object came from */
  source: string;
  /** Kind namespace/name, or '' for file-level problems */
  object: string;
  path: string;
  message: string;
}

export interface OfflineResult {
  issues: OfflineIssue[];
  /** undefined when some object failed schema validation (nothing is rendered from invalid input) */
  rendered?: RenderResult;
  objects: number;
}

export interface OfflineOptions extends RenderOptions {
  /** namespace for objects that name none (kubectl apply -n) */
  namespace: string;
}

const where = (m: Manifest) => `${m.file}#${m.index}`;

export async function checkOffline(paths: string[], opts: OfflineOptions): Promise<OfflineResult> {
  const { manifests, problems } = await readManifests(paths);
  const issues: OfflineIssue[] = problems.map((p) => ({
    source: p.index === undefined ? p.file : `${p.file}#${p.index}`,
    object: '',
    path: '',
    message: p.message,
  }));
  const defaulted: Manifest[] = [];
  const sourceOf = new Map<string, string>();
  const firstAt = new Map<string, string>();
  let objects = 0;
  for (const m of manifests) {
    const meta = (m.doc.metadata ?? {}) as { name?: string; namespace?: string };
    const dup = duplicateOf(m, meta, opts.namespace, firstAt);
    if (dup) issues.push(dup);
    if (!isSluiceResource(m.doc)) {
      const group = String(m.doc.apiVersion ?? '').split('/')[0];
      if (group === 'gateway.sluice.dev')
        issues.push({
          source: where(m),
          object: '',
          path: 'kind',
          message: `unknown kind ${JSON.stringify(m.doc.kind)} in ${m.doc.apiVersion}`,
        });
      defaulted.push(m);
      continue;
    }
    objects++;
    const label = `${m.doc.kind} ${meta.namespace ?? opts.namespace}/${meta.name ?? '?'}`;
    sourceOf.set(`${m.doc.kind}/${meta.namespace ?? opts.namespace}/${meta.name}`, where(m));
    const v = validateResource(m.doc);
    for (const i of v.issues)
      issues.push({ source: where(m), object: label, path: i.path, message: i.message });
    defaulted.push({ ...m, doc: v.defaulted });
  }
  if (issues.length) return { issues, objects };
  const rendered = await renderChecked(inventoryOf(defaulted, opts.namespace), opts);
  for (const o of rendered.outcomes) {
    // also what an accepted object serves without (a missing fallback provider or tenant route, an
    // API key another tenant lists): the cluster shows it as ResolvedRefs=False (ArgoCD: Degraded)
    if (o.accepted.ok && o.resolvedRefs.ok) continue;
    for (const p of o.problems)
      issues.push({
        source: sourceOf.get(o.key) ?? '',
        object: `${o.kind} ${o.namespace}/${o.name}`,
        path: p.path,
        message: p.message,
      });
  }
  return { issues, rendered, objects };
}

/**
 * The same object twice (group, kind, namespace and name): `kubectl apply` and ArgoCD keep only one
 * of them (the last applied), so rendering either one would check something other than what the
 * cluster ends up with.
 */
function duplicateOf(
  m: Manifest,
  meta: { name?: string; namespace?: string },
  namespace: string,
  firstAt: Map<string, string>,
): OfflineIssue | undefined {
  if (typeof m.doc.kind !== 'string' || typeof meta.name !== 'string') return undefined;
  const group = String(m.doc.apiVersion ?? '')
    .split('/')
    .slice(0, -1)
    .join('/');
  const ns = meta.namespace ?? namespace;
  const key = `${group}\0${m.doc.kind}\0${ns}\0${meta.name}`;
  const first = firstAt.get(key);
  if (first === undefined) {
    firstAt.set(key, where(m));
    return undefined;
  }
  return {
    source: where(m),
    object: `${m.doc.kind} ${ns}/${meta.name}`,
    path: 'metadata.name',
    message: `defined again (first at ${first}): kubectl apply and ArgoCD keep only one of the two`,
  };
}

export function formatIssue(i: OfflineIssue): string {
  return [i.source, i.object, i.path, i.message].filter(Boolean).join(': ');
}

/** server/store/cache/access/egress sections from a YAML file (deployment settings no custom resource carries). */
export async function readBaseConfig(file: string | undefined): Promise<RenderOptions['base']> {
  if (!file) return undefined;
  const doc = parse(await readFile(file, 'utf8')) as Record<string, unknown> | null;
  if (!doc || typeof doc !== 'object')
    throw new Error(`${file}: expected a YAML object with server, store or cache`);
  const extra = Object.keys(doc).filter((k) => !['server', 'store', 'cache', 'access', 'egress'].includes(k));
  if (extra.length)
    throw new Error(
      `${file}: only server, store, cache, access and egress belong in a base config (found ${extra.join(', ')})`,
    );
  const base = doc as RenderOptions['base'];
  checkBase(file, base);
  return base;
}

/**
 * Check the base config's sections with the dataplane's schema now, around a placeholder provider
 * and route. An invalid value (a negative body limit, an unknown key, a bad egress CIDR) used to
 * surface only as a render error on every change: the operator ran, wrote nothing, and no object's
 * status said why; now `sluice operator` and `sluice render` refuse to start, naming the field.
 */
function checkBase(file: string, base: RenderOptions['base']): void {
  try {
    validateConfig(
      {
        version: 1,
        access: base?.access ?? 'tenants',
        ...base,
        server: { ...base?.server, secretsDir: '/etc/sluice/secrets' },
        providers: [{ name: 'base-config-check', type: 'mock' }],
        routes: [{ name: 'base-config-check', backends: [{ provider: 'base-config-check' }] }],
      } as SluiceConfigInput,
      file,
    );
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    throw new Error(`${file}: ${err.issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`);
  }
}
