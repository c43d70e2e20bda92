// Namespace matching and authorization through a real in-process dataplane with the openai SDK:
// API keys (three header styles, stored only as SHA-256), X-Channel-Code header tenants, JWT (HS256,
// RS256 with a PEM key, ES256 with a JWKS file), the default namespace, and every 401/403 path.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, type JWTPayload, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InProcessDataplane, startDataplane } from '../helpers/dataplane.ts';
import { client, hello, post, sdkError, sha256, tenantConfig } from './fixtures.ts';

const KEY_A = 'sk-team-a-0123456789';
const KEY_B = 'sk-team-b-abcdefghij';
const HS_SECRET = 'hs256-shared-secret-for-tests-0123456789';
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const otherEc = generateKeyPairSync('ec', { namedCurve: 'P-256' });
let dp: InProcessDataplane;
let jwksDir: string;

beforeAll(async () => {
  process.env.SLUICE_TEST_HS_SECRET = HS_SECRET;
  process.env.SLUICE_TEST_RSA_PUB = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  jwksDir = mkdtempSync(join(tmpdir(), 'sluice-jwks-'));
  const jwk = { ...(await exportJWK(ec.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  writeFileSync(join(jwksDir, 'jwks.json'), JSON.stringify({ keys: [jwk] }));
  dp = await startDataplane(
    tenantConfig({
      namespaces: [
        {
          name: 'team-a',
          match: { apiKeys: [{ name: 'a-main', sha256: sha256(KEY_A) }] },
          models: ['gpt-4o-mini'],
        },
        {
          name: 'team-b',
          match: { apiKeys: [{ name: 'b-main', sha256: sha256(KEY_B) }] },
          routes: ['chat'],
          policies: ['no-large'],
        },
        { name: 'channel', match: { headers: [{ name: 'X-Channel-Code', in: ['ch-001', 'ch-002'] }] } },
        {
          name: 'jwt-hs',
          match: { jwt: { algorithms: ['HS256'], secret: { env: 'SLUICE_TEST_HS_SECRET' }, issuer: 'idp' } },
        },
        {
          name: 'jwt-rs',
          match: {
            jwt: { algorithms: ['RS256'], publicKey: { env: 'SLUICE_TEST_RSA_PUB' }, claim: 'tenant' },
          },
        },
        {
          name: 'jwt-es',
          match: { jwt: { algorithms: ['ES256'], jwksFile: join(jwksDir, 'jwks.json'), audience: 'sluice' } },
        },
      ],
      policies: [{ name: 'no-large', models: { deny: ['mock-large'] } }],
    }),
  );
});

afterAll(async () => {
  await dp?.stop();
  rmSync(jwksDir, { recursive: true, force: true });
});

function hs(claims: JWTPayload, secret = HS_SECRET, exp = '5m'): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer('idp')
    .setSubject('user-1')
    .setIssuedAt()
    .setExpirationTime(exp)
    .sign(new TextEncoder().encode(secret));
}

describe('401: missing or unknown credentials', () => {
  it('rejects a request without credentials when there is no default namespace', async () => {
    const r = await post(dp.url, hello);
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toBe('Bearer realm="sluice"');
    expect(r.json).toEqual({
      error: {
        message: expect.stringContaining('missing credentials'),
        type: 'authentication_error',
        code: 'SLUICE_ERR_UNAUTHENTICATED',
        param: null,
      },
    });
  });

  it('rejects an unknown API key through the SDK', async () => {
    const err = await sdkError(client(dp.baseURL, 'sk-wrong').chat.completions.create(hello));
    expect(err.status).toBe(401);
    expect(err.code).toBe('SLUICE_ERR_UNAUTHENTICATED');
    expect(err.type).toBe('authentication_error');
    expect(err.message).toContain('invalid API key');
  });

  it('rejects JWTs that are expired, forged, wrongly signed or name no namespace', async () => {
    const expired = await hs({ namespace: 'jwt-hs' }, HS_SECRET, '-1m');
    const forged = await hs({ namespace: 'jwt-hs' }, 'not-the-secret-000000000000000000000');
    const unknown = await hs({ namespace: 'nobody' });
    const wrongIssuer = await new SignJWT({ namespace: 'jwt-hs' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('evil')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(HS_SECRET));
    for (const [token, why] of [
      [expired, '"exp" claim timestamp check failed'],
      [forged, 'signature verification failed'],
      [unknown, 'does not name a namespace'],
      [wrongIssuer, 'unexpected "iss" claim value'],
    ] as const) {
      const r = await post(dp.url, hello, { authorization: `Bearer ${token}` });
      expect(r.status, why).toBe(401);
      expect(String((r.json.error as { message: string }).message)).toContain(why);
    }
  });

  it('refuses an ES256 token signed by a key that is not in the JWKS file', async () => {
    const token = await new SignJWT({ namespace: 'jwt-es' })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setAudience('sluice')
      .setExpirationTime('5m')
      .sign(otherEc.privateKey);
    const err = await sdkError(client(dp.baseURL, token).chat.completions.create(hello));
    expect(err.status).toBe(401);
  });

  it('does not identify a channel code outside the allowed list', async () => {
    const err = await sdkError(
      client(dp.baseURL, 'placeholder', { 'X-Channel-Code': 'ch-999' }).chat.completions.create(hello),
    );
    expect(err.status).toBe(401);
  });
});

describe('matching a namespace', () => {
  it('accepts an API key as Bearer, x-api-key and api-key', async () => {
    const sdk = await client(dp.baseURL, KEY_A).chat.completions.create(hello);
    expect(sdk.choices[0]?.message.content).toBeTruthy();
    expect((await post(dp.url, hello, { 'x-api-key': KEY_A })).status).toBe(200);
    expect((await post(dp.url, hello, { 'api-key': KEY_A })).status).toBe(200);
  });

  it('matches X-Channel-Code tenants even when the SDK sends a placeholder key', async () => {
    const res = await client(dp.baseURL, 'placeholder', {
      'X-Channel-Code': 'ch-002',
    }).chat.completions.create(hello);
    expect(res.choices[0]?.finish_reason).toBe('stop');
  });

  it('accepts HS256, RS256 (PEM) and ES256 (JWKS) tokens whose claim names the namespace', async () => {
    const hsToken = await hs({ namespace: 'jwt-hs' });
    const rsToken = await new SignJWT({ tenant: 'jwt-rs' })
      .setProtectedHeader({ alg: 'RS256' })
      .setExpirationTime('5m')
      .sign(rsa.privateKey);
    const esToken = await new SignJWT({ namespace: 'jwt-es' })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setAudience('sluice')
      .setExpirationTime('5m')
      .sign(ec.privateKey);
    for (const token of [hsToken, rsToken, esToken]) {
      const res = await client(dp.baseURL, token).chat.completions.create(hello);
      expect(res.choices[0]?.message.role).toBe('assistant');
    }
  });

  it('refuses an RS256 token presented to an HS256 namespace (no algorithm confusion)', async () => {
    const token = await new SignJWT({ namespace: 'jwt-hs' })
      .setProtectedHeader({ alg: 'RS256' })
      .setIssuer('idp')
      .setExpirationTime('5m')
      .sign(rsa.privateKey);
    expect((await post(dp.url, hello, { authorization: `Bearer ${token}` })).status).toBe(401);
  });
});

describe('403: models and routes a namespace may not use', () => {
  it('refuses a model outside the namespace model list', async () => {
    const err = await sdkError(
      client(dp.baseURL, KEY_A).chat.completions.create({ ...hello, model: 'mock-large' }),
    );
    expect(err.status).toBe(403);
    expect(err.error).toEqual({
      message: "namespace 'team-a' may not use model 'mock-large'",
      type: 'permission_error',
      code: 'SLUICE_ERR_FORBIDDEN',
      param: 'model',
    });
  });

  it('answers a route outside the namespace route list as an unknown model (the route is not named)', async () => {
    const err = await sdkError(
      client(dp.baseURL, KEY_B).chat.completions.create({ ...hello, model: 'internal-model' }),
    );
    expect(err.status).toBe(404);
    expect(err.error).toMatchObject({ code: 'model_not_found', param: 'model' });
    expect(err.message).not.toContain("'internal'");
  });

  it('refuses a model a policy denies', async () => {
    const err = await sdkError(
      client(dp.baseURL, KEY_B).chat.completions.create({ ...hello, model: 'mock-large' }),
    );
    expect(err.status).toBe(403);
    expect(err.message).toContain("not allowed by policy 'no-large'");
  });

  it('lists only the models each namespace may use in /v1/models', async () => {
    const ids = async (key: string) =>
      (await client(dp.baseURL, key).models.list()).data.map((m) => m.id).sort();
    expect(await ids(KEY_A)).toEqual(['gpt-4o-mini']);
    expect(await ids(KEY_B)).toEqual(['gpt-4o-mini', 'text-embedding-3-small']);
    const anon = await fetch(`${dp.baseURL}/models`);
    expect(anon.status).toBe(401);
  });
});

describe('default namespace', () => {
  it('serves credential-less requests and still rejects unknown keys', async () => {
    const open = await startDataplane(
      tenantConfig({
        namespaces: [
          { name: 'public', default: true, models: ['gpt-4o-mini'] },
          { name: 'team-a', match: { apiKeys: [{ name: 'a', sha256: sha256(KEY_A) }] } },
        ],
      }),
    );
    try {
      expect((await post(open.url, hello)).status).toBe(200);
      expect((await post(open.url, { ...hello, model: 'mock-large' })).status).toBe(403);
      expect((await post(open.url, hello, { authorization: 'Bearer sk-typo' })).status).toBe(401);
      expect((await post(open.url, { ...hello, model: 'mock-large' }, { 'x-api-key': KEY_A })).status).toBe(
        200,
      );
    } finally {
      await open.stop();
    }
  });
});
