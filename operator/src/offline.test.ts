// The offline checks behind `sluice validate -f` and `sluice render`.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkOffline, formatIssue, readBaseConfig } from './offline.ts';

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

const PROVIDER = `apiVersion: gateway.sluice.dev/v1alpha1
kind: AIProvider
metadata: { name: openai }
spec:
  type: openai
  credentials: { apiKeySecretRef: { name: k } }
---
apiVersion: v1
kind: Secret
metadata: { name: k }
stringData: { apiKey: sk-x }
`;
const route = (provider: string, ns = '') => `---
apiVersion: gateway.sluice.dev/v1alpha1
kind: AIRoute
metadata: { name: chat${ns ? `, namespace: ${ns}` : ''} }
spec:
  backends: [{ providerRef: { name: ${provider} } }]
`;

async function check(files: Record<string, string>) {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-offline-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  const r = await checkOffline([dir], { namespace: 'demo', secretsDir: '/s' });
  return { r, lines: r.issues.map((i) => formatIssue(i).replaceAll(`${dir}/`, '')) };
}

describe('checkOffline', () => {
  it('reports an object defined twice, naming both documents (the cluster keeps only one)', async () => {
    // before: no issue; `sluice render` rendered the first copy (a working route) and exited 0,
    // while kubectl apply of the same files leaves the second copy (a broken one) in the cluster
    const { lines } = await check({
      'a.yaml': PROVIDER + route('openai'),
      'b.yaml': route('nope', 'demo').slice(4),
    });
    expect(lines).toContain(
      'b.yaml#0: AIRoute demo/chat: metadata.name: defined again (first at a.yaml#2): kubectl apply and ArgoCD keep only one of the two',
    );
  });

  it('does not mistake the same name in another namespace or of another kind for a duplicate', async () => {
    const { lines } = await check({
      'a.yaml': `${PROVIDER}${route('openai')}${route('openai', 'other')}---
apiVersion: v1
kind: Secret
metadata: { name: openai }
stringData: { x: y }
`,
    });
    // the route in "other" has no provider there: a reference problem, not a duplicate
    expect(lines).toEqual([
      'a.yaml#3: AIRoute other/chat: spec.backends[0].providerRef.name: AIProvider "openai" not found',
    ]);
  });

  it('reports what an accepted object serves without (a missing fallback provider), as the cluster does', async () => {
    // before: exit 0 and nothing printed, while the cluster shows the route ResolvedRefs=False
    const { lines } = await check({
      'a.yaml': `${PROVIDER}---
apiVersion: gateway.sluice.dev/v1alpha1
kind: AIRoute
metadata: { name: chat }
spec:
  backends: [{ providerRef: { name: openai } }]
  fallback: [{ providerRef: { name: azure } }]
`,
    });
    expect(lines).toEqual([
      'a.yaml#2: AIRoute demo/chat: spec.fallback[0].providerRef.name: AIProvider "azure" not found',
    ]);
  });

  it("applies the platform namespace's policies to every tenant, as the operator with --platform-namespace does", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-offline-'));
    dirs.push(dir);
    await writeFile(
      join(dir, 'a.yaml'),
      `${PROVIDER}${route('openai')}---
apiVersion: gateway.sluice.dev/v1alpha1
kind: AIPolicy
metadata: { name: ceiling, namespace: platform }
spec: { budget: { usd: 10, window: month } }
---
apiVersion: gateway.sluice.dev/v1alpha1
kind: AINamespace
metadata: { name: t }
spec: { match: { headers: [{ name: X-T, equals: t }] } }
`,
    );
    const opts = { namespace: 'demo', secretsDir: '/s' };
    const without = await checkOffline([dir], opts);
    expect(without.rendered?.config?.namespaces[0]?.policies).toEqual([]);
    const withPlatform = await checkOffline([dir], { ...opts, platformNamespace: 'platform' });
    expect(withPlatform.issues).toEqual([]);
    expect(withPlatform.rendered?.config?.namespaces[0]?.policies).toEqual(['platform.ceiling']);
  });

  it('refuses a base config the dataplane schema rejects, naming the field', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-offline-'));
    dirs.push(dir);
    const file = join(dir, 'base.yaml');
    await writeFile(file, 'server: { bodyLimitBytes: 1048576 }\nstore: { type: memory }\n');
    expect(await readBaseConfig(file)).toEqual({
      server: { bodyLimitBytes: 1048576 },
      store: { type: 'memory' },
    });
    // before: accepted here, then every render failed with a RenderError and nothing was written
    await writeFile(file, 'server: { bodyLimitBytes: -5 }\n');
    await expect(readBaseConfig(file)).rejects.toThrow(
      `${file}: server.bodyLimitBytes: Too small: expected number to be >0`,
    );
  });
});
