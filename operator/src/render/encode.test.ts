// The 1 MiB object limit: 10,000 API keys and 1,000 routes still fit, and the dataplane reads what
// the operator writes (its own loader and secret reader undo the compression).
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { makeSecretReader } from '../../../dataplane/src/compiled/compile.ts';
import { configHash } from '../../../dataplane/src/config/contract.ts';
import {
  COMPRESSED_MARKER,
  decodeStoredText,
  parseConfigText,
  validateConfig,
} from '../../../dataplane/src/config/load.ts';
import {
  compressText,
  configJson,
  contentHash,
  encodeData,
  OBJECT_DATA_LIMIT,
  PLAIN_BUDGET,
  TooLargeError,
} from './encode.ts';
import { render } from './render.ts';
import { inventory, provider, route, tenant } from './test_fixtures.ts';

const dirs: string[] = [];
afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

describe('encode', () => {
  it('keeps small data plain and compressed text round-trips through the dataplane decoder', () => {
    const small = encodeData('ConfigMap', { 'config.yaml': 'version: 1\n' });
    expect(small).toEqual({ data: { 'config.yaml': 'version: 1\n' }, compressed: [], bytes: 22 });
    const text = 'x: 1\n'.repeat(1000);
    const packed = compressText(text);
    expect(packed.startsWith(`${COMPRESSED_MARKER}\n`)).toBe(true);
    expect(decodeStoredText(packed)).toBe(text);
  });

  it('renders the config as 2-space JSON, or one line per list entry when that would not stay plain', () => {
    const small = { version: 1, providers: [{ name: 'p', type: 'mock' }], routes: [] };
    expect(configJson(small)).toBe(`${JSON.stringify(small, null, 2)}\n`);

    // big enough that indentation would pass the plain budget, small enough to fit without it
    const routes = Array.from({ length: 2_500 }, (_, i) => ({
      name: `route-${i}`,
      match: { models: [`model-${i}`, `model-${i}-*`], headers: [{ name: 'x-channel', equals: `c${i}` }] },
      backends: [{ provider: 'p', model: `m-${i}` }],
      retry: { attempts: 2 },
    }));
    const big = {
      version: 1,
      server: { port: 8080 },
      providers: [{ name: 'p', type: 'mock' }],
      routes,
      namespaces: [],
    };
    expect(Buffer.byteLength(JSON.stringify(big, null, 2))).toBeGreaterThan(PLAIN_BUDGET);
    const text = configJson(big);
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(PLAIN_BUDGET);
    expect(JSON.parse(text)).toEqual(big);
    expect(parseYaml(text)).toEqual(big);
    const lines = text.split('\n');
    expect(lines.slice(0, 3)).toEqual(['{', '  "version": 1,', '  "server": {"port":8080},']);
    expect(lines).toContain(`    ${JSON.stringify(routes[42])},`);
    expect(lines).toContain('  "namespaces": []');
    expect(encodeData('ConfigMap', { 'config.yaml': text }).compressed).toEqual([]);
  });

  it('fails loudly when even compressed data cannot fit', () => {
    // random base64 does not compress
    const noise = randomBytes(1_200_000).toString('base64');
    expect(() => encodeData('Secret sluice-secrets', { big: noise })).toThrow(TooLargeError);
  });

  it('content hash ignores key order and changes with any value', () => {
    expect(contentHash({ a: '1', b: '2' })).toBe(contentHash({ b: '2', a: '1' }));
    expect(contentHash({ a: '1', b: '2' })).not.toBe(contentHash({ a: '1', b: '3' }));
  });

  it('renders 1,000 routes and 10,000 API keys into objects under 1 MiB that the dataplane loads', async () => {
    const keys: Record<string, string> = {};
    for (let i = 0; i < 10_000; i++)
      keys[`client-${String(i).padStart(5, '0')}`] = `sk-sluice-${i}-${(i * 2654435761) % 1e9}`;
    const routes = Array.from({ length: 1_000 }, (_, i) =>
      route(`route-${String(i).padStart(4, '0')}`, ['p1', 'p2'], {
        match: {
          models: [`model-${i}`, `model-${i}-*`],
          headers: [{ name: 'X-Channel-Code', equals: `ch-${i}` }],
        },
        fallback: [{ providerRef: { name: 'p2' }, model: `fallback-${i}` }],
        retry: { attempts: 2, baseDelay: '50ms', maxDelay: '2s' },
      }),
    );
    const r = render(
      inventory({
        providers: [provider('p1'), provider('p2')],
        routes,
        namespaces: [tenant('big', { match: { apiKeys: { secretRefs: [{ name: 'keys' }] } } })],
        secrets: { 'team-a/p1-key': { apiKey: 'a' }, 'team-a/p2-key': { apiKey: 'b' }, 'team-a/keys': keys },
      }),
      { secretsDir: 'secrets' },
    );
    expect(r.config?.routes).toHaveLength(1_000);
    const keysFile = 'ainamespace.team-a.big.apikeys.json';
    const plainKeysBytes = Buffer.byteLength(r.secretData[keysFile] ?? '');
    expect(plainKeysBytes).toBeGreaterThan(OBJECT_DATA_LIMIT); // it really needs the compression

    const cm = encodeData('ConfigMap', { 'config.yaml': r.configText });
    const secret = encodeData('Secret', r.secretData);
    expect(cm.bytes).toBeLessThanOrEqual(PLAIN_BUDGET);
    expect(cm.compressed).toEqual([]); // the config stays plain JSON, readable with kubectl
    expect(cm.data['config.yaml']?.startsWith('{\n  "version": 1,\n')).toBe(true);
    expect(secret.compressed).toEqual([keysFile]);
    expect(secret.bytes).toBeLessThan(OBJECT_DATA_LIMIT);

    // lay the objects out the way kubelet mounts them and read them with the dataplane's own code
    const dir = await mkdtemp(join(tmpdir(), 'sluice-encode-'));
    dirs.push(dir);
    await writeFile(join(dir, 'config.yaml'), cm.data['config.yaml'] ?? '');
    await Promise.all(Object.entries(secret.data).map(([k, v]) => writeFile(join(dir, k), v)));
    const loaded = validateConfig(parseConfigText(cm.data['config.yaml'] ?? '', 'config.yaml'));
    expect(configHash(loaded)).toBe(r.hash);
    const read = makeSecretReader(dir, {});
    const list = JSON.parse(read({ file: loaded.namespaces[0]?.match.apiKeysFile ?? '' })) as unknown[];
    expect(list).toHaveLength(10_000);
    expect(read({ file: 'provider.team-a.p1.apiKey' })).toBe('a');
  });
});
