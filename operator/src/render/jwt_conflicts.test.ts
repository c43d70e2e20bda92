// AINamespaces whose JWT rules could accept the same token, rendered and then identified with the
// dataplane's own Identifier. Verification keys are public: a tenant admin can copy another tenant's
// JWKS into its own Secret, choose the claim its rule reads (`aud`) and pick names so that its
// dataplane name (`api.example.com`: namespace "api", AINamespace "example.com") is the audience
// the other tenant's tokens carry. That used to serve the other tenant's callers as the copier (the
// tenant list is rendered by name, and "api.example.com" sorts first).
import { generateKeyPairSync, type JsonWebKey, type KeyObject } from 'node:crypto';
import { type JWTPayload, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { loadableIssues, type SluiceConfig } from '../../../dataplane/src/config/contract.ts';
import { Identifier } from '../../../dataplane/src/policy/identify.ts';
import type { AINamespaceSpec } from '../api/ainamespace.ts';
import { renderChecked } from './preflight.ts';
import { inventory, provider, route, tenant } from './test_fixtures.ts';

const OPTS = { secretsDir: '/s' };
const victimKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
const attackerKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwksOf = (key: KeyObject, kid: string) =>
  JSON.stringify({ keys: [{ ...(key.export({ format: 'jwk' }) as JsonWebKey), kid }] });

type Jwt = NonNullable<NonNullable<AINamespaceSpec['match']>['jwt']>;
const rule = (extra: Partial<Jwt> = {}): Partial<AINamespaceSpec> => ({
  match: { jwt: { algorithms: ['RS256'], jwksSecretRef: { name: 'jwks', key: 'jwks.json' }, ...extra } },
});

/** A token the victim's identity provider issues: it names team-b.victim, for audience api.example.com. */
function victimToken(claims: JWTPayload = {}, key = victimKey.privateKey): Promise<string> {
  return new SignJWT({ namespace: 'team-b.victim', aud: 'api.example.com', ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: 'b1' })
    .setExpirationTime('5m')
    .sign(key);
}

async function render(
  namespaces: ReturnType<typeof tenant>[],
  secrets: Record<string, Record<string, string>>,
) {
  const inv = inventory({
    providers: [provider('p'), provider('p', {}, 'team-b'), provider('p', {}, 'api')],
    routes: [route('r', ['p']), route('r', ['p'], {}, 'team-b'), route('r', ['p'], {}, 'api')],
    namespaces,
    secrets: {
      'team-a/p-key': { apiKey: 'a' },
      'team-b/p-key': { apiKey: 'b' },
      'api/p-key': { apiKey: 'c' },
      ...secrets,
    },
  });
  const r = await renderChecked(inv, OPTS);
  const config = r.config as SluiceConfig;
  expect(await loadableIssues(config, r.secretData)).toEqual([]);
  const id = new Identifier(config.namespaces, (s) => ('file' in s ? (r.secretData[s.file] ?? '') : ''));
  const who = async (token: string) => {
    try {
      return (await id.identify({ authorization: `Bearer ${token}` })).namespace;
    } catch (err) {
      return (err as { code?: string }).code ?? String(err);
    }
  };
  return { outcome: (key: string) => r.outcomes.find((o) => o.key === key), who };
}

describe('a newer tenant with a copy of an older tenant’s public JWKS', () => {
  it('under another claim: its rule is left out (KeyConflict naming the field); the older keeps its callers', async () => {
    const r = await render(
      [
        tenant('victim', rule(), 'team-b'),
        // created later: a copy of the victim's JWKS, keyed on the victim's audience
        tenant('example.com', rule({ claim: 'aud' }), 'api'),
      ],
      {
        'team-b/jwks': { 'jwks.json': jwksOf(victimKey.publicKey, 'b1') },
        'api/jwks': { 'jwks.json': jwksOf(victimKey.publicKey, 'copied') },
      },
    );
    expect(r.outcome('AINamespace/team-b/victim')?.accepted).toMatchObject({ ok: true, reason: 'Accepted' });
    const copier = r.outcome('AINamespace/api/example.com');
    expect(copier?.accepted).toMatchObject({ ok: true, reason: 'AcceptedWithoutUnresolved' });
    expect(copier?.resolvedRefs).toMatchObject({ ok: false, reason: 'KeyConflict' });
    expect(copier?.resolvedRefs.message).toContain(
      'already verifies the tokens of AINamespace team-b/victim',
    );
    expect(copier?.problems.map((p) => p.path)).toEqual(['spec.match.jwt.jwksSecretRef']);
    expect(await r.who(await victimToken())).toBe('team-b.victim');
  });

  it('as a PEM public key: the same key is found whatever form it is copied in', async () => {
    const pem = victimKey.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const r = await render(
      [
        tenant('victim', rule(), 'team-b'),
        tenant(
          'example.com',
          {
            match: {
              jwt: {
                algorithms: ['RS256'],
                publicKeySecretRef: { name: 'pem', key: 'key.pem' },
                claim: 'aud',
              },
            },
          },
          'api',
        ),
      ],
      { 'team-b/jwks': { 'jwks.json': jwksOf(victimKey.publicKey, 'b1') }, 'api/pem': { 'key.pem': pem } },
    );
    expect(r.outcome('AINamespace/api/example.com')?.problems).toEqual([
      expect.objectContaining({ path: 'spec.match.jwt.publicKeySecretRef' }),
    ]);
    expect(await r.who(await victimToken())).toBe('team-b.victim');
  });

  it('under the same claim (one identity provider for all tenants): both serve, each token its own tenant', async () => {
    const r = await render([tenant('victim', rule(), 'team-b'), tenant('example.com', rule(), 'api')], {
      'team-b/jwks': { 'jwks.json': jwksOf(victimKey.publicKey, 'b1') },
      'api/jwks': { 'jwks.json': jwksOf(victimKey.publicKey, 'b1') },
    });
    for (const key of ['AINamespace/team-b/victim', 'AINamespace/api/example.com'])
      expect(r.outcome(key)?.accepted).toMatchObject({ ok: true, reason: 'Accepted' });
    expect(await r.who(await victimToken())).toBe('team-b.victim');
    expect(await r.who(await victimToken({ namespace: 'api.example.com' }))).toBe('api.example.com');
  });

  it('with another issuer on both rules: no token can name both, so both serve', async () => {
    const r = await render(
      [
        tenant('victim', rule({ issuer: 'https://idp.b' }), 'team-b'),
        tenant('example.com', rule({ claim: 'aud', issuer: 'https://idp.api' }), 'api'),
      ],
      {
        'team-b/jwks': { 'jwks.json': jwksOf(victimKey.publicKey, 'b1') },
        'api/jwks': { 'jwks.json': jwksOf(victimKey.publicKey, 'b1') },
      },
    );
    expect(r.outcome('AINamespace/api/example.com')?.accepted.reason).toBe('Accepted');
    expect(
      await r.who(
        await new SignJWT({ namespace: 'team-b.victim', aud: 'api.example.com' })
          .setProtectedHeader({ alg: 'RS256' })
          .setIssuer('https://idp.b')
          .setExpirationTime('5m')
          .sign(victimKey.privateKey),
      ),
    ).toBe('team-b.victim');
  });
});

describe('which of two clashing tenants keeps its tokens', () => {
  it('is the older one, and the newer serves them again once the older is gone', async () => {
    const secrets = {
      'team-b/jwks': { 'jwks.json': jwksOf(victimKey.publicKey, 'b1') },
      'api/jwks': { 'jwks.json': jwksOf(victimKey.publicKey, 'b1') },
    };
    // the tenant with claim aud created first: it holds the key, the later one loses its rule
    const first = tenant('example.com', rule({ claim: 'aud' }), 'api');
    const later = tenant('victim', rule(), 'team-b');
    const both = await render([first, later], secrets);
    expect(both.outcome('AINamespace/team-b/victim')?.resolvedRefs.reason).toBe('KeyConflict');
    expect(both.outcome('AINamespace/api/example.com')?.accepted.reason).toBe('Accepted');
    expect(await both.who(await victimToken())).toBe('api.example.com');
    const alone = await render([later], secrets);
    expect(alone.outcome('AINamespace/team-b/victim')?.accepted.reason).toBe('Accepted');
    expect(await alone.who(await victimToken())).toBe('team-b.victim');
  });
});

describe('a tenant named after a claim value of another tenant’s tokens, with keys of its own', () => {
  it('is no conflict, and cannot make those tokens fail', async () => {
    const r = await render(
      [tenant('victim', rule(), 'team-b'), tenant('example.com', rule({ claim: 'aud' }), 'api')],
      {
        'team-b/jwks': { 'jwks.json': jwksOf(victimKey.publicKey, 'b1') },
        'api/jwks': { 'jwks.json': jwksOf(attackerKey.publicKey, 'b1') },
      },
    );
    expect(r.outcome('AINamespace/api/example.com')?.accepted.reason).toBe('Accepted');
    expect(await r.who(await victimToken())).toBe('team-b.victim');
    // and its own tokens are still its own
    expect(await r.who(await victimToken({ namespace: undefined }, attackerKey.privateKey))).toBe(
      'api.example.com',
    );
  });
});
