import { describe, expect, it } from 'vitest';
import { configHash } from '../../../dataplane/src/config/contract.ts';
import { parseConfigText, validateConfig } from '../../../dataplane/src/config/load.ts';
import { render } from '../render/render.ts';
import { inventory, provider, route, tenant } from '../render/test_fixtures.ts';
import { nextRevision, revisionFromConfigMap, stampResult } from './revision.ts';

const secrets = { 'team-a/p1-key': { apiKey: 'a' }, 'team-a/keys': { alice: 'sk-alice' } };

function renderRoutes(n: number, models = (i: number) => [`m-${i}`]) {
  const r = render(
    inventory({
      providers: [provider('p1')],
      routes: Array.from({ length: n }, (_, i) => route(`r${i}`, ['p1'], { match: { models: models(i) } })),
      namespaces: [tenant('t', { match: { apiKeys: { secretRefs: [{ name: 'keys' }] } } })],
      secrets,
    }),
    { secretsDir: 'secrets' },
  );
  const generations = new Map(r.outcomes.filter((o) => o.accepted.ok).map((o) => [o.key, o.generation]));
  return { r, generations };
}

describe('config revision', () => {
  it('the stamped config is what the dataplane loads: same hash, revision and per-object generations', () => {
    for (const n of [3, 5_000]) {
      // 5,000 routes take the one-entry-per-line layout (over the plain budget when indented)
      const { r, generations } = renderRoutes(n);
      expect(r.configText.includes('\n    {"name":"team-a.r0"')).toBe(n > 3);
      const state = nextRevision(undefined, r.configText, generations, 1_800_000_000_000);
      const stamped = stampResult(r, state);
      const loaded = validateConfig(parseConfigText(stamped.configText, 'config.yaml'));
      expect(configHash(loaded)).toBe(stamped.hash);
      expect(loaded.revision).toBe(1_800_000_000);
      expect(loaded.objects?.['AIRoute/team-a/r0']).toEqual([1, 1_800_000_000]);
      expect(Object.keys(loaded.objects ?? {})).toHaveLength(n + 2);
    }
  });

  it('grows only when the content or a generation changes, and keeps since for unchanged objects', () => {
    const { r, generations } = renderRoutes(3);
    const s1 = nextRevision(undefined, r.configText, generations, 5_000);
    expect(s1.revision).toBe(5);
    // the same render again: the same state, so nothing is written
    expect(nextRevision(s1, r.configText, new Map(generations))).toBe(s1);
    // route r1 edited (generation 2, new content): a new revision; only r1's since moves
    const edited = renderRoutes(3, (i) => (i === 1 ? ['other'] : [`m-${i}`]));
    edited.generations.set('AIRoute/team-a/r1', 2);
    const s2 = nextRevision(s1, edited.r.configText, edited.generations);
    expect(s2.revision).toBe(6);
    expect(s2.objects['AIRoute/team-a/r1']).toEqual([2, 6]);
    expect(s2.objects['AIRoute/team-a/r0']).toEqual([1, 5]);
    expect(s2.objects['AIProvider/team-a/p1']).toEqual([1, 5]);
    // a generation bump that renders the same text still is a new revision (the config names it)
    const gens3 = new Map(edited.generations).set('AIRoute/team-a/r2', 2);
    const s3 = nextRevision(s2, edited.r.configText, gens3);
    expect(s3.revision).toBe(7);
    expect(s3.objects['AIRoute/team-a/r2']).toEqual([2, 7]);
    // an object that leaves the config and comes back has a new since, even at the same generation
    const without = new Map(gens3);
    without.delete('AIRoute/team-a/r0');
    const s4 = nextRevision(s3, `${edited.r.configText} `, without);
    const s5 = nextRevision(s4, edited.r.configText, gens3);
    expect(s5.objects['AIRoute/team-a/r0']).toEqual([1, 9]);
  });

  it('a new leader continues from the live ConfigMap: same revision, same since, no rewrite', () => {
    const { r, generations } = renderRoutes(3);
    const s1 = nextRevision(undefined, r.configText, generations, 5_000);
    const stamped = stampResult(r, s1);
    const restored = revisionFromConfigMap({ 'config.yaml': stamped.configText });
    expect(restored).toEqual(s1);
    expect(nextRevision(restored, r.configText, generations)).toBe(restored);
    // a ConfigMap from before revisions, or not JSON: a new lineage
    expect(revisionFromConfigMap({ 'config.yaml': r.configText })).toBeUndefined();
    expect(revisionFromConfigMap({ 'config.yaml': 'version: 1\n' })).toBeUndefined();
    expect(revisionFromConfigMap(undefined)).toBeUndefined();
  });
});
