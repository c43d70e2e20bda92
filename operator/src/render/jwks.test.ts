// An AINamespace whose JWKS has no key that can verify its tokens (an empty list, only `use: enc`
// or `kty: oct` keys, a key that does not parse, a private key, a short RSA modulus) used to be
// accepted and rendered: the dataplane built a key set from any `keys` list, and every caller then
// got 401 with nothing saying why. Now the tenant alone is rejected, InvalidJWKS naming the Secret
// and spec.match.jwt.jwksSecretRef; `sluice render` names the field; no replica loads such a JWKS;
// and every other tenant keeps serving.
import { generateKeyPairSync, type JsonWebKey } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ConfigError,
  checkJwks,
  loadableIssues,
  type SluiceConfig,
} from '../../../dataplane/src/config/contract.ts';
import { Identifier } from '../../../dataplane/src/policy/identify.ts';
import { checkOffline, formatIssue } from '../offline.ts';
import { renderChecked } from './preflight.ts';
import { inventory, provider, route, tenant } from './test_fixtures.ts';

const OPTS = { secretsDir: '/s' };
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const rsaPublic = { ...(rsa.publicKey.export({ format: 'jwk' }) as JsonWebKey), kid: 'r1' };
const ecPublic = { ...(ec.publicKey.export({ format: 'jwk' }) as JsonWebKey), kid: 'e1' };
const shortRsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' });

/** JWKS documents no RS256 token can ever be verified with, and the words that must say why. */
const UNUSABLE: Array<[string, unknown, RegExp]> = [
  ['an empty key list', { keys: [] }, /empty "keys" list/],
  ['only symmetric keys', { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] }, /kty "oct" is not RSA/],
  ['only encryption keys', { keys: [{ ...rsaPublic, use: 'enc' }] }, /use "enc" is not "sig"/],
  ['a key for another algorithm', { keys: [{ ...rsaPublic, alg: 'RS512' }] }, /alg "RS512" is not RS256/],
  ['a malformed key', { keys: [{ kty: 'RSA', n: '!!', e: 'AQAB' }] }, /not a valid RSA public key/],
  ['a private key', { keys: [rsa.privateKey.export({ format: 'jwk' })] }, /private key material/],
  ['a short modulus', { keys: [shortRsa] }, /1024 bits/],
  ['key_ops without verify', { keys: [{ ...rsaPublic, key_ops: ['encrypt'] }] }, /key_ops/],
  ['no keys list', { issuer: 'x' }, /not a JWKS document/],
];

function jwtTenant(name: string, namespace: string, algorithms: Array<'RS256' | 'ES256'> = ['RS256']) {
  return tenant(
    name,
    { match: { jwt: { algorithms, jwksSecretRef: { name: 'jwks', key: 'jwks.json' } } } },
    namespace,
  );
}

function twoTenants(jwks: unknown) {
  return inventory({
    providers: [provider('p'), provider('p', {}, 'team-b')],
    routes: [route('r', ['p']), route('r', ['p'], {}, 'team-b')],
    namespaces: [
      jwtTenant('broken', 'team-a'),
      tenant('fine', { match: { apiKeys: { secretRefs: [{ name: 'keys' }] } } }, 'team-b'),
    ],
    secrets: {
      'team-a/p-key': { apiKey: 'a' },
      'team-b/p-key': { apiKey: 'b' },
      'team-a/jwks': { 'jwks.json': JSON.stringify(jwks) },
      'team-b/keys': { one: 'sk-team-b-1' },
    },
  });
}

describe('a JWKS with no usable key', () => {
  it.each(UNUSABLE)(
    '(%s) rejects that tenant alone, naming the Secret and the field',
    async (_, jwks, why) => {
      const r = await renderChecked(twoTenants(jwks), OPTS);
      const broken = r.outcomes.find((o) => o.key === 'AINamespace/team-a/broken');
      expect(broken?.accepted).toMatchObject({ ok: false, reason: 'InvalidRefs' });
      expect(broken?.resolvedRefs).toMatchObject({ ok: false, reason: 'InvalidJWKS' });
      expect(broken?.accepted.message).toMatch(
        /the JWKS in Secret "jwks" key "jwks.json" \(spec.match.jwt.jwksSecretRef\)/,
      );
      expect(broken?.accepted.message).toMatch(why);
      expect(broken?.problems.map((p) => p.path)).toEqual(['spec.match.jwt.jwksSecretRef']);
      // the other tenant is served as before
      expect(r.outcomes.find((o) => o.key === 'AINamespace/team-b/fine')?.accepted.reason).toBe('Accepted');
      const config = r.config as SluiceConfig;
      expect(await loadableIssues(config, r.secretData)).toEqual([]);
      // its entry is a rejected one that carries no JWT rule and no JWKS file
      const entry = config.namespaces.find((n) => n.name === 'team-a.broken');
      expect(entry?.rejected).toMatch(/InvalidJWKS|JWKS/);
      expect(entry?.match.jwt).toBeUndefined();
      expect(Object.keys(r.secretData).some((f) => f.includes('jwks'))).toBe(false);
      const id = new Identifier(config.namespaces, (s) => ('file' in s ? (r.secretData[s.file] ?? '') : ''));
      expect((await id.identify({ authorization: 'Bearer sk-team-b-1' })).namespace).toBe('team-b.fine');
    },
  );

  it('keeps a JWKS with one usable key among unusable ones, and only the usable ones verify', async () => {
    const jwks = { keys: [{ kty: 'oct', k: 'c2VjcmV0' }, { ...rsaPublic, use: 'enc' }, rsaPublic, ecPublic] };
    const r = await renderChecked(twoTenants(jwks), OPTS);
    expect(r.outcomes.find((o) => o.key === 'AINamespace/team-a/broken')?.accepted.reason).toBe('Accepted');
    expect(checkJwks(JSON.stringify(jwks), ['RS256']).usable.keys).toEqual([rsaPublic]);
    expect(checkJwks(JSON.stringify(jwks), ['RS256', 'ES256']).usable.keys).toEqual([rsaPublic, ecPublic]);
    expect(checkJwks(JSON.stringify(jwks), ['ES256']).usable.keys).toEqual([ecPublic]);
  });

  it('is refused by a replica too, naming the jwksFile (a config written by hand, or by an older operator)', async () => {
    const config = {
      namespaces: [
        {
          name: 'a.b',
          match: {
            jwt: { algorithms: ['ES256'], jwksFile: 'jwks.json', claim: 'namespace', requireExp: true },
          },
          policies: [],
        },
      ],
    } as unknown as SluiceConfig;
    const read = () => JSON.stringify({ keys: [rsaPublic] });
    const err = (() => {
      try {
        new Identifier(config.namespaces, read);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues).toEqual([
      {
        path: 'namespaces[0].match.jwt.jwksFile',
        message: 'the JWKS has no key that can verify ES256 tokens: keys[0]: kty "RSA" is not EC',
      },
    ]);
  });
});

describe('a PEM public key that cannot verify the listed algorithms', () => {
  const pem = (k: ReturnType<typeof generateKeyPairSync>['publicKey']) =>
    k.export({ type: 'spki', format: 'pem' }).toString();
  it.each([
    ['an RSA key for ES256', pem(rsa.publicKey), ['ES256'], 'it is rsa key, not EC'],
    [
      'a P-384 key for ES256',
      pem(generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey),
      ['ES256'],
      'its curve is secp384r1, not P-256',
    ],
    [
      'a 1024-bit key for RS256',
      pem(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey),
      ['RS256'],
      'its modulus has 1024 bits',
    ],
  ] as const)(
    '(%s) rejects that tenant alone, naming the field the dataplane refuses',
    async (_, key, algorithms, why) => {
      const inv = twoTenants({ keys: [] });
      const namespaces = inv.namespaces.map((n) =>
        n.metadata.name === 'broken'
          ? tenant('broken', {
              match: { jwt: { algorithms: [...algorithms], publicKeySecretRef: { name: 'pem', key: 'k' } } },
            })
          : n,
      );
      const secrets = new Map(inv.secrets as Map<string, Record<string, string>>);
      secrets.set('team-a/pem', { k: key });
      const r = await renderChecked({ ...inv, namespaces, secrets }, OPTS);
      const broken = r.outcomes.find((o) => o.key === 'AINamespace/team-a/broken');
      expect(broken?.accepted.ok).toBe(false);
      expect(broken?.accepted.message).toContain(
        `the dataplane rejects match.jwt.publicKey: the public key cannot verify ${algorithms.join('/')} tokens: ${why}`,
      );
      expect(r.outcomes.find((o) => o.key === 'AINamespace/team-b/fine')?.accepted.reason).toBe('Accepted');
      expect(await loadableIssues(r.config as SluiceConfig, r.secretData)).toEqual([]);
    },
  );
});

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

describe('sluice render / validate -f', () => {
  it('names spec.match.jwt.jwksSecretRef of the tenant whose JWKS has no usable key', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-jwks-'));
    dirs.push(dir);
    await writeFile(
      join(dir, 'all.yaml'),
      `apiVersion: gateway.sluice.dev/v1alpha1
kind: AIProvider
metadata: { name: openai }
spec: { type: openai, credentials: { apiKeySecretRef: { name: k } } }
---
apiVersion: v1
kind: Secret
metadata: { name: k }
stringData: { apiKey: sk-x }
---
apiVersion: gateway.sluice.dev/v1alpha1
kind: AIRoute
metadata: { name: chat }
spec: { backends: [{ providerRef: { name: openai } }] }
---
apiVersion: gateway.sluice.dev/v1alpha1
kind: AINamespace
metadata: { name: app }
spec: { match: { jwt: { algorithms: [ES256], jwksSecretRef: { name: jwks, key: jwks.json } } } }
---
apiVersion: v1
kind: Secret
metadata: { name: jwks }
stringData: { jwks.json: '{"keys": [{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA", "use": "enc"}]}' }
`,
    );
    const r = await checkOffline([dir], { namespace: 'demo', secretsDir: '/s' });
    expect(r.issues.map((i) => formatIssue(i).replaceAll(`${dir}/`, ''))).toEqual([
      'all.yaml#3: AINamespace demo/app: spec.match.jwt.jwksSecretRef: the JWKS in Secret "jwks" key "jwks.json" (spec.match.jwt.jwksSecretRef) has no key that can verify ES256 tokens: keys[0]: use "enc" is not "sig"',
    ]);
  });
});
