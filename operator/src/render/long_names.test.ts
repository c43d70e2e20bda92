// Object names may have 253 characters. Rendered names and output Secret keys are built from them:
// a long name must never make the whole render fail (nothing written for anyone), only, where the
// dataplane cannot take it, its own object.
import { describe, expect, it } from 'vitest';
import { loadableIssues } from '../../../dataplane/src/config/contract.ts';
import { renderChecked } from './preflight.ts';
import { secretFileName } from './secrets.ts';
import { inventory, provider, route, tenant } from './test_fixtures.ts';

const OPTS = { secretsDir: '/etc/sluice/secrets' };
const long = (n: number) => 'x'.repeat(n);

describe('long object names', () => {
  it('render and load with Secret keys of at most 253 characters', async () => {
    // dataplane names team-a.p<240 x> (248) and team-a.<235 x> (242) are valid; their secret files
    // were 263 and 272 characters: ENAMETOOLONG in the preflight threw for the whole render
    const inv = inventory({
      providers: [provider('p'), provider(`p${long(240)}`)],
      routes: [route('r', ['p']), route('r2', [`p${long(240)}`])],
      namespaces: [
        tenant(long(235), {
          match: {
            apiKeys: { secretRefs: [{ name: 'ks' }] },
            jwt: { algorithms: ['HS256'], secretRef: { name: 'jwt', key: 'secret' } },
          },
        }),
      ],
      secrets: {
        'team-a/p-key': { apiKey: 'a' },
        [`team-a/p${long(240)}-key`]: { apiKey: 'b' },
        'team-a/ks': { k: 'sk-1' },
        'team-a/jwt': { secret: 's'.repeat(32) },
      },
    });
    const r = await renderChecked(inv, OPTS);
    expect(r.outcomes.filter((o) => !o.accepted.ok)).toEqual([]);
    const keys = Object.keys(r.secretData);
    expect(keys).toHaveLength(4);
    for (const k of keys) {
      expect(k.length).toBeLessThanOrEqual(253);
      expect(k).toMatch(/^[-._a-zA-Z0-9]+$/);
    }
    expect(await loadableIssues(r.config as NonNullable<typeof r.config>, r.secretData)).toEqual([]);
  });

  it('keeps short names readable and long ones distinct', () => {
    expect(secretFileName('provider', 'team-a', 'openai', 'apiKey')).toBe('provider.team-a.openai.apiKey');
    const a = secretFileName('ainamespace', 'team-a', `${long(200)}a`, 'apikeys.json');
    const b = secretFileName('ainamespace', 'team-a', `${long(200)}b`, 'apikeys.json');
    expect(a).not.toBe(b);
    expect(a).toMatch(/^ainamespace\.team-a\.x{80}_[0-9a-f]{32}\.apikeys\.json$/);
  });

  it('rejects only the object whose dataplane name would pass 253 characters', async () => {
    const inv = inventory({
      providers: [provider('p')],
      routes: [route('r', ['p'])],
      namespaces: [
        tenant('ok', { match: { headers: [{ name: 'X-T', equals: 'ok' }] } }),
        tenant(long(250), { match: { apiKeys: { secretRefs: [{ name: 'ks' }] } } }),
      ],
      secrets: { 'team-a/p-key': { apiKey: 'a' }, 'team-a/ks': { k: 'sk-1' } },
    });
    const r = await renderChecked(inv, OPTS);
    const bad = r.outcomes.find((o) => o.name === long(250));
    expect(bad?.accepted.ok).toBe(false);
    expect(bad?.problems).toEqual([
      {
        path: 'metadata.name',
        message: 'the dataplane names it "<namespace>.<name>", at most 253 characters: 4 too many',
      },
    ]);
    expect(r.outcomes.filter((o) => o.accepted.ok).map((o) => o.name)).toEqual(['p', 'r', 'ok']);
  });
});
