// One API key in two tenants. The older tenant used to keep it and the newer one was dropped whole:
// a tenant admin who learnt another tenant's key could add it to its own (older) AINamespace's Secret
// and be served that tenant's callers (their prompts on its own routes), and the other tenant lost
// every key it had. Now neither serves the shared key, both keep the rest, and both statuses say so.
import { describe, expect, it } from 'vitest';
import { loadableIssues, type SluiceConfig } from '../../../dataplane/src/config/contract.ts';
import { Identifier } from '../../../dataplane/src/policy/identify.ts';
import { renderChecked } from './preflight.ts';
import { inventory, provider, route, tenant } from './test_fixtures.ts';

const OPTS = { secretsDir: '/s' };

async function identify(id: Identifier, key: string): Promise<string> {
  try {
    return (await id.identify({ authorization: `Bearer ${key}` })).namespace;
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
}

describe('an API key listed by two tenants', () => {
  it('is served by neither; the victim keeps its other keys, and nobody is told whose it is', async () => {
    const inv = inventory({
      providers: [provider('p'), provider('p', {}, 'team-b')],
      routes: [route('r', ['p']), route('r', ['p'], {}, 'team-b')],
      namespaces: [
        // created first: it used to win the clash
        tenant('attacker', { match: { apiKeys: { secretRefs: [{ name: 'keys' }] } } }),
        tenant('victim', { match: { apiKeys: { secretRefs: [{ name: 'keys' }] } } }, 'team-b'),
      ],
      secrets: {
        'team-a/p-key': { apiKey: 'a' },
        'team-b/p-key': { apiKey: 'b' },
        'team-a/keys': { mine: 'sk-attacker', learnt: 'sk-victim-1' },
        'team-b/keys': { one: 'sk-victim-1', two: 'sk-victim-2' },
      },
    });
    const r = await renderChecked(inv, OPTS);
    const config = r.config as SluiceConfig;
    expect(await loadableIssues(config, r.secretData)).toEqual([]);
    for (const who of ['AINamespace/team-a/attacker', 'AINamespace/team-b/victim']) {
      const o = r.outcomes.find((x) => x.key === who);
      expect(o?.accepted).toMatchObject({ ok: true, reason: 'AcceptedWithoutUnresolved' });
      expect(o?.resolvedRefs).toMatchObject({ ok: false, reason: 'KeyConflict' });
      expect(o?.resolvedRefs.message).not.toMatch(/team-|attacker|victim/);
    }
    const id = new Identifier(config.namespaces, (s) => ('file' in s ? (r.secretData[s.file] ?? '') : ''));
    expect(await identify(id, 'sk-victim-1')).toBe('SLUICE_ERR_UNAUTHENTICATED');
    expect(await identify(id, 'sk-victim-2')).toBe('team-b.victim');
    expect(await identify(id, 'sk-attacker')).toBe('team-a.attacker');
  });
});
