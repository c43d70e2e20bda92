// ArgoCD integration: the health-check Lua for the four kinds, run by a real Lua interpreter
// against sample statuses (fixtures/argocd/*.yaml, each with its exact expected status and
// message), exactly as it appears in argocd-cm-health.yaml; and the example Application's values,
// rendered through the chart.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { get, MONITORING_API, one, REPO_ROOT, render } from './helm.ts';
import { runHealth } from './lua.ts';

const KINDS = ['AIProvider', 'AIRoute', 'AINamespace', 'AIPolicy'];
const ARGOCD_DIR = join(REPO_ROOT, 'config/argocd');
const FIXTURES = join(import.meta.dirname, 'fixtures/argocd');

interface Fixture {
  file: string;
  expected: { status: string; message: string };
  object: Record<string, unknown>;
}

const fixtures: Fixture[] = readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .map((file) => ({ file, ...(parse(readFileSync(join(FIXTURES, file), 'utf8')) as Omit<Fixture, 'file'>) }));

describe('ArgoCD health checks', () => {
  let dir: string;
  let cm: Record<string, string>;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-argocd-'));
    cm = (
      parse(readFileSync(join(ARGOCD_DIR, 'argocd-cm-health.yaml'), 'utf8')) as {
        data: Record<string, string>;
      }
    ).data;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('argocd-cm-health.yaml holds health.lua for exactly the four kinds (run `make argocd-health` when this fails)', () => {
    const source = readFileSync(join(ARGOCD_DIR, 'health.lua'), 'utf8');
    expect(Object.keys(cm).sort()).toEqual(
      KINDS.map((k) => `resource.customizations.health.gateway.sluice.dev_${k}`).sort(),
    );
    for (const script of Object.values(cm)) expect(script).toBe(source);
  });

  it('uses only Lua 5.1 syntax (ArgoCD runs gopher-lua)', () => {
    const code = readFileSync(join(ARGOCD_DIR, 'health.lua'), 'utf8').replace(/--.*$/gm, '');
    expect(code).not.toMatch(/\bgoto\b|\/\/|<const>|<close>|[&|]|~[^=]|>>|<</);
  });

  for (const kind of KINDS) {
    it(`${kind}: every sample status gives its expected health and message`, async () => {
      const script = cm[`resource.customizations.health.gateway.sluice.dev_${kind}`];
      expect(script).toBeDefined();
      const objects = fixtures.map((f) => ({ apiVersion: 'gateway.sluice.dev/v1alpha1', kind, ...f.object }));
      const results = await runHealth(script ?? '', objects, dir);
      expect(results).toHaveLength(fixtures.length);
      fixtures.forEach((f, i) => {
        expect({ file: f.file, status: results[i]?.[0], message: results[i]?.[1] }).toEqual({
          file: f.file,
          ...f.expected,
        });
      });
    });
  }

  it('covers each outcome at least once', () => {
    const statuses = new Set(fixtures.map((f) => f.expected.status));
    expect([...statuses].sort()).toEqual(['Degraded', 'Healthy', 'Progressing']);
  });
});

describe('example Application', () => {
  const app = parse(readFileSync(join(ARGOCD_DIR, 'application.yaml'), 'utf8')) as Record<string, unknown>;

  it('points at this chart', () => {
    expect(get(app, 'apiVersion')).toBe('argoproj.io/v1alpha1');
    expect(get(app, 'kind')).toBe('Application');
    const path = String(get(app, 'spec.source.path'));
    expect(existsSync(join(REPO_ROOT, path, 'Chart.yaml'))).toBe(true);
    expect(get(app, 'spec.syncPolicy.syncOptions')).toEqual(
      expect.arrayContaining(['CreateNamespace=true', 'ServerSideApply=true']),
    );
  });

  it('its values pass the chart schema and render the features it turns on', async () => {
    const values = get(app, 'spec.source.helm.valuesObject');
    const objs = await render(values, {
      release: String(get(app, 'spec.source.helm.releaseName')),
      namespace: String(get(app, 'spec.destination.namespace')),
      apiVersions: [MONITORING_API],
    });
    expect(one(objs, 'Ingress').spec).toBeDefined();
    expect(one(objs, 'PrometheusRule').metadata.namespace).toBe('sluice-system');
    expect(get(one(objs, 'HorizontalPodAutoscaler'), 'spec.maxReplicas')).toBe(20);
  });
});
