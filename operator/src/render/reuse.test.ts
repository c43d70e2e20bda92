// What the operator keeps between renders (reuse.ts) must never change what it renders: after every
// step of a sequence of changes, a render with the kept state is compared with a render from scratch
// (config text, hash, Secret data, every object's outcome), and the preflight kept across checks must
// still refuse what a fresh load refuses (a secret file gone, a key list that no longer loads).
import { describe, expect, it, onTestFinished } from 'vitest';
import type { AIRoute } from '../api/airoute.ts';
import { renderChecked } from './preflight.ts';
import type { RenderResult } from './render.ts';
import { RenderReuse } from './reuse.ts';
import { inventory, provider, route, tenant } from './test_fixtures.ts';
import type { Inventory, SecretEntries } from './types.ts';

const OPTS = { secretsDir: '/etc/sluice/secrets' };

function keys(prefix: string, n: number): SecretEntries {
  return Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, `${prefix}-${i}`]));
}

function bump(r: AIRoute, spec: Partial<AIRoute['spec']>): AIRoute {
  return {
    ...r,
    metadata: { ...r.metadata, generation: (r.metadata.generation ?? 1) + 1 },
    spec: { ...r.spec, ...spec },
  };
}

const view = (r: RenderResult) => ({
  configText: r.configText,
  hash: r.hash,
  secretData: r.secretData,
  outcomes: r.outcomes,
});

describe('render with what the operator keeps between renders', () => {
  it('renders exactly what a render from scratch does, change after change', async () => {
    const secrets: Record<string, SecretEntries> = {
      'team-a/p-key': { apiKey: 'sk-p' },
      'team-a/q-key': { apiKey: 'sk-q' },
      'team-a/keys-a': keys('a', 50),
      'team-a/keys-b': keys('b', 50),
    };
    const providers = [provider('p'), provider('q')];
    const routes = [
      route('r1', ['p'], { match: { models: ['m1'] } }),
      route('r2', ['q'], { match: { models: ['m2'] } }),
      route('r3', ['p'], { match: { models: ['m3'] }, fallback: [{ providerRef: { name: 'q' } }] }),
    ];
    const namespaces = [
      tenant('a', { match: { apiKeys: { secretRefs: [{ name: 'keys-a' }] } } }),
      tenant('b', { match: { apiKeys: { secretRefs: [{ name: 'keys-b' }] } } }),
    ];
    const inv = (): Inventory =>
      inventory({ providers: [...providers], routes: [...routes], namespaces: [...namespaces], secrets });
    const reuse = new RenderReuse();
    // its folder holds the test's secret files: removed even when an assertion fails
    onTestFinished(() => reuse.close());
    const steps: Array<[string, () => void]> = [
      ['first render', () => {}],
      ['one route changed', () => (routes[0] = bump(routes[0] as AIRoute, { match: { models: ['m1b'] } }))],
      // r2 and r3's fallback lose their provider: a kept render of r2 would still say Accepted
      ['a provider lost its Secret', () => delete secrets['team-a/q-key']],
      ['the Secret is back', () => (secrets['team-a/q-key'] = { apiKey: 'sk-q2' })],
      ['a key Secret rotated', () => (secrets['team-a/keys-b'] = keys('b2', 50))],
      // one key in two tenants: neither serves it, with the kept key lists too
      ['a key clash', () => (secrets['team-a/keys-b'] = { ...keys('b2', 50), stolen: 'a-7' })],
      ['a route removed', () => routes.splice(1, 1)],
    ];
    for (const [what, change] of steps) {
      change();
      const kept = await renderChecked(inv(), { ...OPTS, reuse });
      const fresh = await renderChecked(inv(), OPTS);
      expect(view(kept), what).toEqual(view(fresh));
    }
    const outcome = (key: string) =>
      renderChecked(inv(), { ...OPTS, reuse }).then((r) => r.outcomes.find((o) => o.key === key));
    expect((await outcome('AINamespace/team-a/b'))?.resolvedRefs.reason).toBe('KeyConflict');
    delete secrets['team-a/q-key'];
    expect((await outcome('AIRoute/team-a/r3'))?.resolvedRefs.ok).toBe(false);
  });

  it('keeps the preflight honest: a secret file that is gone or a key list that no longer loads is refused', async () => {
    const reuse = new RenderReuse();
    // its folder holds the test's secret files: removed even when an assertion fails
    onTestFinished(() => reuse.close());
    const r = await renderChecked(
      inventory({
        providers: [provider('p')],
        routes: [route('r', ['p'])],
        namespaces: [tenant('a', { match: { apiKeys: { secretRefs: [{ name: 'ks' }] } } })],
        secrets: { 'team-a/p-key': { apiKey: 'k' }, 'team-a/ks': keys('a', 5) },
      }),
      OPTS,
    );
    const cfg = r.config;
    if (!cfg) throw new Error('no config');
    const good = r.secretData;
    const credential = 'provider.team-a.p.apiKey';
    const keyList = 'ainamespace.team-a.a.apikeys.json';
    expect(Object.keys(good).sort()).toEqual([keyList, credential]);
    expect(await reuse.preflight.issues(cfg, good)).toEqual([]);
    // the file the last check wrote must not satisfy this one
    const { [credential]: _, ...withoutCredential } = good;
    expect((await reuse.preflight.issues(cfg, withoutCredential))[0]?.message).toMatch(/p\.apiKey/);
    expect(await reuse.preflight.issues(cfg, good)).toEqual([]);
    // the list parsed by the last check (cached by its text) must not stand in for a broken one
    const broken = await reuse.preflight.issues(cfg, { ...good, [keyList]: '[{"name": "x"}]' });
    expect(broken[0]?.path).toBe('namespaces[0].match.apiKeysFile[0]');
    expect(await reuse.preflight.issues(cfg, good)).toEqual([]);
  });
});
