// The chart ships the CRDs from its `crds` subchart; they must be the repository's crds/ exactly
// (run `make chart-crds` after regenerating crds/), rendered with only the keep/sync-wave
// annotations and part-of labels added.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { CHART_DIR, find, type K8sObject, REPO_ROOT, render } from './helm.ts';

const TOP = join(REPO_ROOT, 'crds');
const CHART_FILES = join(CHART_DIR, 'charts/crds/files');

const yamlFiles = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort();

function withoutChartMetadata(o: K8sObject): K8sObject {
  const copy = structuredClone(o);
  const ann = { ...(copy.metadata.annotations ?? {}) };
  for (const k of [
    'helm.sh/resource-policy',
    'argocd.argoproj.io/sync-wave',
    'argocd.argoproj.io/sync-options',
  ])
    delete ann[k];
  copy.metadata.annotations = Object.keys(ann).length ? ann : undefined;
  const labels = { ...(copy.metadata.labels ?? {}) };
  for (const k of ['app.kubernetes.io/managed-by', 'helm.sh/chart']) delete labels[k];
  copy.metadata.labels = labels;
  return JSON.parse(JSON.stringify(copy));
}

describe('chart CRDs', () => {
  it('are byte-identical copies of crds/ (run `make chart-crds` when this fails)', () => {
    const top = yamlFiles(TOP);
    expect(top.length).toBe(4);
    expect(yamlFiles(CHART_FILES)).toEqual(top);
    for (const f of top)
      expect(readFileSync(join(CHART_FILES, f), 'utf8'), `charts/sluice/charts/crds/files/${f}`).toBe(
        readFileSync(join(TOP, f), 'utf8'),
      );
  });

  it('render to the same objects as crds/, plus keep, sync-wave -10 and server-side-apply annotations', async () => {
    const rendered = find(await render(), 'CustomResourceDefinition');
    const expected = yamlFiles(TOP)
      .flatMap((f) =>
        parseAllDocuments(readFileSync(join(TOP, f), 'utf8')).map((d) => d.toJS() as K8sObject | null),
      )
      .filter((o): o is K8sObject => o !== null);
    expect(rendered.map((c) => c.metadata.name).sort()).toEqual(expected.map((c) => c.metadata.name).sort());
    for (const crd of rendered) {
      expect(crd.metadata.annotations).toMatchObject({
        'helm.sh/resource-policy': 'keep',
        'argocd.argoproj.io/sync-wave': '-10',
        'argocd.argoproj.io/sync-options': 'ServerSideApply=true',
      });
      const source = expected.find((e) => e.metadata.name === crd.metadata.name);
      expect(withoutChartMetadata(crd)).toEqual(JSON.parse(JSON.stringify(source)));
    }
  });
});
