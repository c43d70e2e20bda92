// One API key in two tenants. The older tenant used to keep it and the newer one was dropped whole:
// a tenant admin who learnt another tenant's key could add it to its own (older) AINamespace's Secret
// and be served that tenant's callers (their prompts on its own routes), and the other tenant lost
// every key it had. Now neither serves the shared key, both keep the rest, and both statuses say so.
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadableIssues, type SluiceConfig } from '../../../dataplane/src/config/contract.ts';
import { Identifier } from '../../../dataplane/src/policy/identify.ts';
import { renderChecked } from './preflight.ts';
import { inventory, provider, route, tenant } from './test_fixtures.ts';

const OPTS = { secretsDir: '/s' };

/** An HS256 token naming a tenant, signed with `secret`. */
function hs256(claims: Record<string, unknown>, secret: string): string {
  const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const body = `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ exp: Math.floor(Date.now() / 1000) + 600, ...claims })}`;
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
}

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

describe('an HS256 secret two tenants share', () => {
  it('is accepted by neither: a holder of one could sign tokens naming the other', async () => {
    // a template copied to every namespace: each tenant admin can read its own copy of the secret
    const copied = 'template-secret-0123456789abcdef-xyz';
    const jwt = (secret: string) => ({
      match: { jwt: { algorithms: ['HS256' as const], secretRef: { name: secret, key: 'k' } } },
    });
    const inv = inventory({
      providers: [provider('p'), provider('p', {}, 'team-b')],
      routes: [route('r', ['p']), route('r', ['p'], {}, 'team-b')],
      namespaces: [
        tenant('a', jwt('hs')),
        tenant('b', jwt('hs'), 'team-b'),
        tenant('own', jwt('own'), 'team-b'),
      ],
      secrets: {
        'team-a/p-key': { apiKey: 'a' },
        'team-b/p-key': { apiKey: 'b' },
        'team-a/hs': { k: copied },
        'team-b/hs': { k: `${copied}\n` },
        'team-b/own': { k: 'a-secret-of-its-own-0123456789abcdef' },
      },
    });
    const r = await renderChecked(inv, OPTS);
    const config = r.config as SluiceConfig;
    for (const who of ['AINamespace/team-a/a', 'AINamespace/team-b/b'])
      expect(r.outcomes.find((x) => x.key === who)?.resolvedRefs).toEqual({
        ok: false,
        reason: 'KeyConflict',
        message:
          'the HS256 secret is also the secret of another AINamespace: either could sign tokens naming the other, so neither accepts tokens (give each its own secret)',
      });
    const id = new Identifier(config.namespaces, (s) => ('file' in s ? (r.secretData[s.file] ?? '') : ''));
    // team-b's admin signs a token for team-a with its copy: refused (it was served as team-a)
    expect(await identify(id, hs256({ namespace: 'team-a.a' }, copied))).toBe('SLUICE_ERR_UNAUTHENTICATED');
    expect(
      await identify(id, hs256({ namespace: 'team-b.own' }, 'a-secret-of-its-own-0123456789abcdef')),
    ).toBe('team-b.own');
  });
});
