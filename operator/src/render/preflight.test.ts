// Preflight: what passes the schema but would still be refused by a replica (a JWT key that does not
// parse, an API-key list the identifier rejects) is caught and blamed on its object before writing.
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadableIssues } from '../../../dataplane/src/config/contract.ts';
import { renderChecked } from './preflight.ts';
import { render } from './render.ts';
import { inventory, provider, route, tenant } from './test_fixtures.ts';

const OPTS = { secretsDir: '/etc/sluice/secrets' };
const base = {
  providers: [provider('p')],
  routes: [route('r', ['p'])],
};
const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();

describe('preflight', () => {
  it('passes a config the dataplane loads, including tenants with keys and a JWT public key', async () => {
    const inv = inventory({
      ...base,
      namespaces: [
        tenant('keys', { match: { apiKeys: { secretRefs: [{ name: 'ks' }] } } }),
        tenant('jwt', {
          match: { jwt: { algorithms: ['ES256'], publicKeySecretRef: { name: 'jwt', key: 'pub' } } },
        }),
      ],
      secrets: { 'team-a/p-key': { apiKey: 'k' }, 'team-a/ks': { a: 'sk-1' }, 'team-a/jwt': { pub: pem } },
    });
    const r = await renderChecked(inv, OPTS);
    expect(r.outcomes.filter((o) => !o.accepted.ok)).toEqual([]);
    expect(await loadableIssues(r.config as NonNullable<typeof r.config>, r.secretData)).toEqual([]);
  });

  it('rejects only the tenant whose JWT key the dataplane cannot load', async () => {
    const inv = inventory({
      ...base,
      namespaces: [
        tenant('good', { match: { headers: [{ name: 'X-Channel-Code', equals: 'a' }] } }),
        tenant('badkey', {
          match: { jwt: { algorithms: ['RS256'], publicKeySecretRef: { name: 'jwt', key: 'pub' } } },
        }),
      ],
      secrets: { 'team-a/p-key': { apiKey: 'k' }, 'team-a/jwt': { pub: 'not a pem' } },
    });
    // schema and references are fine: plain render accepts it
    expect(render(inv, OPTS).outcomes.every((o) => o.accepted.ok)).toBe(true);
    const r = await renderChecked(inv, OPTS);
    const bad = r.outcomes.find((o) => o.name === 'badkey');
    expect(bad?.accepted.ok).toBe(false);
    expect(bad?.accepted.message).toMatch(
      /^the dataplane rejects match\.jwt: cannot load the verification key/,
    );
    // kept as a rejected entry (its callers get 403); the dataplane cannot load its JWT key, so the
    // entry carries no match rules and none of its secrets
    expect(r.config?.namespaces.map((n) => [n.name, n.match, n.rejected !== undefined])).toEqual([
      ['team-a.badkey', {}, true],
      ['team-a.good', { headers: [{ name: 'X-Channel-Code', equals: 'a' }] }, false],
    ]);
    expect(Object.keys(r.secretData).some((k) => k.includes('badkey'))).toBe(false);
  });

  it('lists a key once when a tenant lists it twice (a rotation overlap), instead of rejecting the tenant', async () => {
    const inv = inventory({
      ...base,
      namespaces: [
        tenant('rotating', { match: { apiKeys: { secretRefs: [{ name: 'old' }, { name: 'new' }] } } }),
      ],
      secrets: {
        'team-a/p-key': { apiKey: 'k' },
        // the new Secret carries the key still in use plus its successor; the old one two copies
        'team-a/old': { current: 'sk-current', copy: 'sk-current' },
        'team-a/new': { current: 'sk-current', next: 'sk-next' },
      },
    });
    const r = await renderChecked(inv, OPTS);
    // before: "the dataplane rejects match.apiKeys: key "new.current" is also listed by namespace
    // "team-a.rotating"", and the tenant's callers all got 401
    expect(r.outcomes.filter((o) => !o.accepted.ok)).toEqual([]);
    const list = JSON.parse(r.secretData['ainamespace.team-a.rotating.apikeys.json'] ?? '[]');
    expect(list.map((k: { name: string }) => k.name)).toEqual(['old.copy', 'new.next']);
  });

  it('reports a Secret entry holding several keys (a file of keys), instead of accepting a key none can send', async () => {
    const inv = inventory({
      ...base,
      namespaces: [tenant('t', { match: { apiKeys: { secretRefs: [{ name: 'ks' }] } } })],
      secrets: {
        'team-a/p-key': { apiKey: 'k' },
        // kubectl create secret generic ks --from-file=keys.txt --from-literal=carol=sk-carol
        'team-a/ks': { 'keys.txt': 'sk-alice\nsk-bob\n', carol: 'sk-carol' },
      },
    });
    const r = await renderChecked(inv, OPTS);
    const t = r.outcomes.find((o) => o.name === 't');
    expect(t?.accepted.ok).toBe(true);
    expect(t?.resolvedRefs).toEqual({
      ok: false,
      reason: 'InvalidApiKey',
      message:
        'Secret entries "ks.keys.txt" hold a line break or control character, which no client can send: each entry is one API key (--from-literal=NAME=KEY, not a file of keys)',
    });
    const list = JSON.parse(r.secretData['ainamespace.team-a.t.apikeys.json'] ?? '[]');
    expect(list.map((k: { name: string }) => k.name)).toEqual(['ks.carol']);
  });
});
