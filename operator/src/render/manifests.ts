// Reads Kubernetes manifests (YAML or JSON, multi-document, files or folders) for `sluice render` and
// `sluice validate -f`: the custom resources and the Secrets they reference, each with where it came from.
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { API_VERSION, type Resource } from '../api/common.ts';
import type { Inventory, Kind, SecretEntries } from './types.ts';

export interface Manifest {
  file: string;
  /** 0-based document index in the file */
  index: number;
  doc: Record<string, unknown>;
}

export interface ManifestProblem {
  file: string;
  index?: number;
  message: string;
}

const EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

async function collectFiles(path: string, out: string[]): Promise<void> {
  const s = await stat(path);
  if (!s.isDirectory()) {
    out.push(path);
    return;
  }
  const entries = (await readdir(path, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const full = join(path, e.name);
    if (e.isDirectory()) await collectFiles(full, out);
    else if (EXTENSIONS.has(extname(e.name))) out.push(full);
  }
}

export async function readManifests(
  paths: string[],
): Promise<{ manifests: Manifest[]; problems: ManifestProblem[] }> {
  const files: string[] = [];
  const problems: ManifestProblem[] = [];
  for (const p of paths) {
    try {
      await collectFiles(p, files);
    } catch (err) {
      problems.push({
        file: p,
        message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      });
    }
  }
  const manifests: Manifest[] = [];
  for (const file of files) {
    const text = await readFile(file, 'utf8');
    parseAllDocuments(text).forEach((d, index) => {
      if (d.errors.length) {
        problems.push({ file, index, message: `cannot parse: ${d.errors[0]?.message ?? 'invalid YAML'}` });
        return;
      }
      const doc: unknown = d.toJS();
      if (doc === null || doc === undefined) return;
      if (typeof doc !== 'object' || Array.isArray(doc)) {
        problems.push({ file, index, message: 'a manifest must be an object' });
        return;
      }
      const rec = doc as Record<string, unknown>;
      if (rec.kind === 'List' && Array.isArray(rec.items)) {
        for (const item of rec.items) manifests.push({ file, index, doc: item as Record<string, unknown> });
      } else manifests.push({ file, index, doc: rec });
    });
  }
  return { manifests, problems };
}

export const SLUICE_KINDS: readonly Kind[] = ['AIProvider', 'AIRoute', 'AINamespace', 'AIPolicy'];

export function isSluiceResource(doc: Record<string, unknown>): boolean {
  return doc.apiVersion === API_VERSION && SLUICE_KINDS.includes(doc.kind as Kind);
}

/** Decoded entries of a core/v1 Secret manifest (data is base64, stringData plain; stringData wins). */
export function secretEntries(doc: Record<string, unknown>): SecretEntries {
  const out: SecretEntries = {};
  const data = doc.data as Record<string, unknown> | undefined;
  for (const [k, v] of Object.entries(data ?? {})) {
    if (typeof v === 'string') out[k] = Buffer.from(v, 'base64').toString('utf8');
  }
  const stringData = doc.stringData as Record<string, unknown> | undefined;
  for (const [k, v] of Object.entries(stringData ?? {})) if (typeof v === 'string') out[k] = v;
  return out;
}

/** Group manifests into the renderer's inventory; objects without a namespace get `defaultNamespace`. */
export function inventoryOf(manifests: Manifest[], defaultNamespace = 'default'): Inventory {
  const inv = { providers: [], routes: [], namespaces: [], policies: [], secrets: new Map() } as {
    [K in keyof Inventory]: K extends 'secrets' ? Map<string, SecretEntries> : Array<Resource<unknown>>;
  };
  for (const { doc } of manifests) {
    const meta = (doc.metadata ?? {}) as { name?: string; namespace?: string };
    if (!meta.name) continue;
    const namespace = meta.namespace ?? defaultNamespace;
    if (doc.apiVersion === 'v1' && doc.kind === 'Secret') {
      inv.secrets.set(`${namespace}/${meta.name}`, secretEntries(doc));
      continue;
    }
    if (!isSluiceResource(doc)) continue;
    const obj = { ...doc, metadata: { ...meta, namespace } } as unknown as Resource<unknown>;
    const list = {
      AIProvider: inv.providers,
      AIRoute: inv.routes,
      AINamespace: inv.namespaces,
      AIPolicy: inv.policies,
    }[doc.kind as Kind];
    list.push(obj);
  }
  return inv as unknown as Inventory;
}
