// Informers survive API errors: a resource that does not exist yet (its list fails) and a watch that
// breaks because its CRD is deleted are both retried with backoff until the resource is back.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Informer } from '../../operator/src/controller/informers.ts';
import { type SluiceEnv, startSluiceEnv } from '../envtest/sluice_env.ts';
import { waitFor } from './helpers.ts';

let env: SluiceEnv;
beforeAll(async () => {
  env = await startSluiceEnv();
  await env.namespace('w');
});
afterAll(async () => env?.stop());

const CRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: { name: widgets.test.sluice.dev }
spec:
  group: test.sluice.dev
  scope: Namespaced
  names: { kind: Widget, plural: widgets, singular: widget, listKind: WidgetList }
  versions:
    - name: v1
      served: true
      storage: true
      schema: { openAPIV3Schema: { type: object, x-kubernetes-preserve-unknown-fields: true } }
`;
const widget = (name: string) =>
  `apiVersion: test.sluice.dev/v1\nkind: Widget\nmetadata: { name: ${name}, namespace: w }\n`;

describe('informer', () => {
  it('retries a failing list and a broken watch with backoff, then catches up', async () => {
    const events: string[] = [];
    const inf = new Informer<{ metadata: { name: string } }>(
      env.rest,
      { apiVersion: 'test.sluice.dev/v1', plural: 'widgets', namespaces: ['w'] },
      pino({ level: 'silent' }),
      (kind, obj) => events.push(`${kind}:${obj.metadata.name}`),
    );
    const synced = inf.start(); // the resource does not exist yet: the list fails with 404
    await new Promise((r) => setTimeout(r, 1_200));
    await env.kubectlOk(['apply', '-f', '-'], CRD);
    await env.kubectlOk([
      'wait',
      '--for=condition=Established',
      'crd/widgets.test.sluice.dev',
      '--timeout=30s',
    ]);
    await env.kubectlOk(['apply', '-f', '-'], widget('one'));
    await synced;
    await waitFor('first widget', async () => inf.get('w', 'one'));

    // break the watch: the resource disappears, then comes back with a new object
    await env.kubectlOk(['delete', 'crd', 'widgets.test.sluice.dev', '--wait=true']);
    await new Promise((r) => setTimeout(r, 1_500));
    await env.kubectlOk(['apply', '-f', '-'], CRD);
    await env.kubectlOk([
      'wait',
      '--for=condition=Established',
      'crd/widgets.test.sluice.dev',
      '--timeout=30s',
    ]);
    await env.kubectlOk(['apply', '-f', '-'], widget('two'));
    await waitFor('second widget after the watch recovered', async () => inf.get('w', 'two'), 45_000);
    expect(inf.errors).toBeGreaterThan(0);
    expect(events).toContain('add:two');
    expect(inf.list().map((o) => o.metadata.name)).toEqual(['two']);
    await inf.stop();
  }, 90_000);
});
