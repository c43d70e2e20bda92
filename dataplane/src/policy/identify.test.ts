import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../config/load.ts';
import { namespaceSchema, type SecretSource } from '../config/schema.ts';
import { Slicer } from '../config/steps.ts';
import { GatewayError } from '../errors.ts';
import { Identifier, presentedCredential, sha256Hex } from './identify.ts';

const dir = mkdtempSync(join(tmpdir(), 'sluice-identify-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const readSecret = (s: SecretSource) => {
  if ('env' in s) return `env:${s.env}`;
  return readFileSync(s.file, 'utf8');
};

function identifier(namespaces: unknown[]): Identifier {
  return new Identifier(
    namespaces.map((n) => namespaceSchema.parse(n)),
    readSecret,
  );
}

/** A refusal is always a rejected promise, never a synchronous throw (callers may not catch one). */
async function rejection(p: unknown): Promise<GatewayError> {
  expect(p).toBeInstanceOf(Promise);
  const err = await (p as Promise<unknown>).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GatewayError);
  return err as GatewayError;
}

describe('credential extraction', () => {
  it('reads Bearer (any case), x-api-key and api-key, in that order', () => {
    const get = (h: Record<string, string>) => (n: string) => h[n];
    expect(presentedCredential(get({ authorization: 'bearer  abc ' }))).toBe('abc');
    expect(presentedCredential(get({ 'x-api-key': 'k1', 'api-key': 'k2' }))).toBe('k1');
    expect(presentedCredential(get({ 'api-key': 'k2' }))).toBe('k2');
    expect(presentedCredential(get({ authorization: 'Basic dXNlcjpwYXNz' }))).toBeUndefined();
    // A non-Bearer Authorization (e.g. a proxy's Basic auth) does not hide x-api-key.
    expect(presentedCredential(get({ authorization: 'Basic dXNlcjpwYXNz', 'x-api-key': 'k3' }))).toBe('k3');
    expect(presentedCredential(get({}))).toBeUndefined();
  });
});

describe('header matchers (X-Channel-Code)', () => {
  const id = identifier([
    { name: 'exact', match: { headers: [{ name: 'X-Channel-Code', equals: 'CH-1' }] } },
    { name: 'listed', match: { headers: [{ name: 'x-channel-code', in: ['CH-2', 'CH-3'] }] } },
    { name: 'pattern', match: { headers: [{ name: 'X-Channel-Code', regex: '^VIP-\\d{3}$' }] } },
    {
      name: 'both',
      match: {
        headers: [
          { name: 'X-Channel-Code', equals: 'CH-9' },
          { name: 'X-Region', in: ['eu'] },
        ],
      },
    },
  ]);

  it.each([
    ['CH-1', 'exact'],
    ['CH-3', 'listed'],
    ['VIP-042', 'pattern'],
  ])('%s -> %s', async (code, ns) => {
    expect(await id.identify({ 'x-channel-code': code })).toEqual({ namespace: ns });
  });

  it('requires every matcher of a namespace', async () => {
    expect(await id.identify({ 'x-channel-code': 'CH-9', 'x-region': 'eu' })).toEqual({ namespace: 'both' });
    expect((await rejection(id.identify({ 'x-channel-code': 'CH-9' }))).status).toBe(401);
  });

  it('does not match partial regex hits or unknown codes', async () => {
    expect((await rejection(id.identify({ 'x-channel-code': 'VIP-0420' }))).status).toBe(401);
    expect((await rejection(id.identify({ 'x-channel-code': 'CH-4' }))).status).toBe(401);
  });
});

describe('API keys', () => {
  it('matches keys by SHA-256 and names the key, never storing the key itself', async () => {
    const id = identifier([
      { name: 'a', match: { apiKeys: [{ name: 'app', sha256: sha256Hex('sk-secret') }] } },
    ]);
    // a known key is answered as it is: no promise on the request path
    expect(id.identify({ 'x-api-key': 'sk-secret' })).toEqual({
      namespace: 'a',
      keyName: 'app',
      caller: 'app',
    });
    expect(JSON.stringify(id)).not.toContain('sk-secret');
    const err = await rejection(id.identify({ 'x-api-key': 'sk-secreT' }));
    expect(err.code).toBe('SLUICE_ERR_UNAUTHENTICATED');
  });

  it('loads keys from an apiKeysFile and rejects malformed entries with their path', () => {
    const good = join(dir, 'keys.json');
    writeFileSync(good, JSON.stringify([{ name: 'f', sha256: sha256Hex('sk-file') }]));
    const id = identifier([{ name: 'f', match: { apiKeysFile: good } }]);
    expect(id).toBeInstanceOf(Identifier);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify([{ name: 'x', sha256: 'NOT-HEX' }]));
    expect(() => identifier([{ name: 'f', match: { apiKeysFile: bad } }])).toThrow(ConfigError);
    try {
      identifier([{ name: 'f', match: { apiKeysFile: bad } }]);
    } catch (err) {
      expect((err as ConfigError).issues[0]?.path).toBe('namespaces[0].match.apiKeysFile[0]');
    }
  });

  it('refuses the same key in two namespaces', () => {
    const sha = sha256Hex('sk-dup');
    expect(() =>
      identifier([
        { name: 'a', match: { apiKeys: [{ name: 'k', sha256: sha }] } },
        { name: 'b', match: { apiKeys: [{ name: 'k', sha256: sha }] } },
      ]),
    ).toThrow(/also listed by namespace "a"/);
  });

  it('requires the namespace headers too when a keyed namespace lists them (403 otherwise)', async () => {
    const id = identifier([
      {
        name: 'k',
        match: {
          apiKeys: [{ name: 'k', sha256: sha256Hex('sk-k') }],
          headers: [{ name: 'x-env', equals: 'prod' }],
        },
      },
    ]);
    expect(await id.identify({ 'x-api-key': 'sk-k', 'x-env': 'prod' })).toMatchObject({ namespace: 'k' });
    expect((await rejection(id.identify({ 'x-api-key': 'sk-k', 'x-env': 'dev' }))).status).toBe(403);
  });
});

describe('building in slices (hot reload)', () => {
  const namespaces = (n: number) =>
    Array.from({ length: n }, (_, i) => {
      const file = join(dir, `slices-${i}.json`);
      const keys = Array.from({ length: 600 }, (_, k) => ({
        name: `f-${i}-${k}`,
        sha256: sha256Hex(`sk-f-${i}-${k}`),
      }));
      writeFileSync(file, JSON.stringify(keys));
      return namespaceSchema.parse({
        name: `ns-${i}`,
        default: i === 0,
        match: { apiKeysFile: file, apiKeys: [{ name: `inline-${i}`, sha256: sha256Hex(`sk-inline-${i}`) }] },
      });
    });

  it('identifies exactly as one built in one go, and gives the event loop turns meanwhile', async () => {
    const list = namespaces(4);
    const whole = new Identifier(list, readSecret);
    const slicer = new Slicer(0);
    const sliced = await Identifier.load(list, readSecret, slicer);
    expect(slicer.pauses).toBeGreaterThan(4); // 600 keys per file: more than one pause each
    for (const key of ['sk-f-0-0', 'sk-f-3-599', 'sk-inline-2', 'sk-f-2-333']) {
      const want = await whole.identify({ authorization: `Bearer ${key}` });
      expect(await sliced.identify({ authorization: `Bearer ${key}` })).toEqual(want);
    }
    expect(await sliced.identify({})).toEqual({ namespace: 'ns-0' });
    expect((await rejection(sliced.identify({ 'x-api-key': 'sk-nope' }))).status).toBe(401);
  });

  it('fails the same way on a key listed twice or a bad file entry', async () => {
    const list = namespaces(2);
    const dup = [
      ...list,
      namespaceSchema.parse({
        name: 'dup',
        match: { apiKeys: [{ name: 'x', sha256: sha256Hex('sk-f-1-7') }] },
      }),
    ];
    await expect(Identifier.load(dup, readSecret, new Slicer(0))).rejects.toThrow(
      /key "x" is also listed by namespace "ns-1"/,
    );
    const bad = join(dir, 'slices-bad.json');
    writeFileSync(
      bad,
      JSON.stringify([
        ...Array.from({ length: 700 }, (_, k) => ({ name: `b${k}`, sha256: sha256Hex(`b${k}`) })),
        { name: 'z' },
      ]),
    );
    const err = await Identifier.load(
      [namespaceSchema.parse({ name: 'b', match: { apiKeysFile: bad } })],
      readSecret,
      new Slicer(0),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues).toEqual([
      {
        path: 'namespaces[0].match.apiKeysFile[700]',
        message: 'needs {name, sha256} with a lowercase hex SHA-256 digest',
      },
    ]);
  });
});

describe('JWT configuration errors', () => {
  it('names the field of a bad JWT config', () => {
    const bad = (jwt: unknown) => () => identifier([{ name: 'j', match: { jwt } }]);
    expect(bad({ algorithms: ['HS256'] })).toThrow(/exactly one of secret, publicKey or jwksFile/);
    expect(bad({ algorithms: ['HS256', 'RS256'], secret: { env: 'X' } })).toThrow(/cannot be combined/);
    expect(bad({ algorithms: ['RS256'], secret: { env: 'X' } })).toThrow(/verify with publicKey or jwksFile/);
    expect(bad({ algorithms: ['RS256'], publicKey: { env: 'X' } })).toThrow(
      /cannot load the verification key/,
    );
  });
});

describe('header rules that narrow credentials', () => {
  it('never identify a namespace alone, even when its key file lists no key', async () => {
    // a tenant whose keys were all left out (another tenant lists them; entries no client can
    // send): its `.*` rule used to make it header-only, unchecked, taking every caller without a key
    const empty = join(dir, 'empty-keys.json');
    writeFileSync(empty, '[]');
    const id = identifier([
      { name: 'anyone', default: true },
      { name: 'narrow', match: { apiKeysFile: empty, headers: [{ name: 'user-agent', regex: '.*' }] } },
    ]);
    expect(await id.identify({ 'user-agent': 'OpenAI/Python 1.0' })).toEqual({ namespace: 'anyone' });
  });

  it('try a rejected header-only namespace after every served one: it only refuses what they leave', async () => {
    const id = identifier([
      {
        name: 'a-copy',
        rejected: 'Conflicted',
        match: { headers: [{ name: 'x-channel-code', in: ['c1', 'c2'] }] },
      },
      { name: 'b-owner', match: { headers: [{ name: 'x-channel-code', equals: 'c1' }] } },
    ]);
    expect(await id.identify({ 'x-channel-code': 'c1' })).toEqual({ namespace: 'b-owner' });
    expect((await rejection(id.identify({ 'x-channel-code': 'c2' }))).code).toBe('SLUICE_ERR_FORBIDDEN');
  });
});
