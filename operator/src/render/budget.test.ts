// The output must fit the ConfigMap and Secret (1 MiB of data each). One tenant whose Secret holds
// more API keys than fit used to make the write fail on every render: the whole gateway stayed on
// its last config, so another tenant's revoked key or lowered limit never reached the replicas.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { overflowOf, type SecretEncoding } from './budget.ts';
import { encodeData, OBJECT_DATA_LIMIT } from './encode.ts';
import { renderChecked } from './preflight.ts';
import { inventory, provider, route, tenant } from './test_fixtures.ts';

const OPTS = { secretsDir: '/etc/sluice/secrets' };

/** A Secret of `n` distinct API keys: the hashed list is ~90 bytes a key, hex that gzip halves. */
function manyKeys(n: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < n; i++) out[`k${i}`] = `sk-${i.toString(36)}`;
  return out;
}

function twoTenants(bigKeys: number) {
  return inventory({
    providers: [provider('p'), provider('p', {}, 'team-b')],
    routes: [route('r', ['p']), route('r', ['p'], {}, 'team-b')],
    namespaces: [
      tenant('small', { match: { apiKeys: { secretRefs: [{ name: 'small-keys' }] } } }),
      tenant('big', { match: { apiKeys: { secretRefs: [{ name: 'big-keys' }] } } }, 'team-b'),
    ],
    secrets: {
      'team-a/p-key': { apiKey: 'a' },
      'team-b/p-key': { apiKey: 'b' },
      'team-a/small-keys': { one: 'sk-small-1', two: 'sk-small-2' },
      'team-b/big-keys': manyKeys(bigKeys),
    },
  });
}

describe('output size budget', () => {
  it('rejects the tenant whose key list does not fit, and writes everyone else', async () => {
    const r = await renderChecked(twoTenants(40_000), OPTS);
    const big = r.outcomes.find((o) => o.key === 'AINamespace/team-b/big');
    expect(big?.accepted).toMatchObject({ ok: false, reason: 'Invalid' });
    expect(big?.accepted.message).toMatch(
      new RegExp(
        `^its rendered data \\(\\d+ bytes\\) does not fit: the Secret the operator writes would need \\d+ bytes, over the ${OBJECT_DATA_LIMIT}-byte object limit, so the largest objects of the namespace with the largest share are left out$`,
      ),
    );
    const small = r.outcomes.find((o) => o.key === 'AINamespace/team-a/small');
    expect(small?.accepted.ok).toBe(true);
    // what is written fits (this threw before, on every render)
    expect(encodeData('Secret', r.secretData).bytes).toBeLessThanOrEqual(OBJECT_DATA_LIMIT);
    // the big tenant stays as a 403 entry without its key list: its keys are 401, never another tenant
    const entry = r.config?.namespaces.find((n) => n.name === 'team-b.big');
    expect(entry).toMatchObject({ match: {}, rejected: big?.accepted.message });
    expect(Object.keys(r.secretData).filter((k) => k.includes('team-b.big'))).toEqual([]);
    expect(r.config?.namespaces.find((n) => n.name === 'team-a.small')?.rejected).toBeUndefined();
  });

  it('leaves a large output that fits alone (10,000 keys are compressed, not refused)', async () => {
    const r = await renderChecked(twoTenants(10_000), OPTS);
    expect(r.outcomes.filter((o) => !o.accepted.ok)).toEqual([]);
    expect(overflowOf(r)).toBeUndefined();
    const encoded = encodeData('Secret', r.secretData);
    expect(encoded.compressed).toEqual(['ainamespace.team-b.big.apikeys.json']);
  });

  it('shares the Secret encoding with the write, so a fitting render is compressed once', async () => {
    const r = await renderChecked(twoTenants(10_000), OPTS);
    const calls: string[] = [];
    const { SecretEncoding: Encoding } = await import('./budget.ts');
    const encoding: SecretEncoding = new Encoding();
    const of = encoding.of.bind(encoding);
    encoding.of = (what, data) => {
      calls.push(what);
      return of(what, data);
    };
    const first = overflowOf(r, encoding);
    expect(first).toBeUndefined();
    expect(encoding.of('Secret x', r.secretData)).toBe(encoding.of('Secret y', { ...r.secretData }));
    expect(calls).toEqual(['Secret', 'Secret x', 'Secret y']);
  });

  it('rejects the largest entries when the config itself cannot fit the ConfigMap', async () => {
    // 400 header tenants with 4 KiB random values: ~1.6 MB that gzip cannot shrink below 1 MiB
    const namespaces = [tenant('small', { match: { headers: [{ name: 'X-T', equals: 'small' }] } })];
    for (let i = 0; i < 400; i++)
      namespaces.push(
        tenant(
          `big-${i}`,
          { match: { headers: [{ name: 'X-T', equals: randomBytes(3072).toString('base64') }] } },
          'team-b',
        ),
      );
    const inv = inventory({
      providers: [provider('p')],
      routes: [route('r', ['p'])],
      namespaces,
      secrets: { 'team-a/p-key': { apiKey: 'a' } },
    });
    const r = await renderChecked(inv, OPTS);
    const rejected = r.outcomes.filter((o) => !o.accepted.ok);
    expect(rejected.length).toBeGreaterThan(0);
    expect(rejected.every((o) => o.namespace === 'team-b')).toBe(true);
    expect(rejected[0]?.accepted.message).toMatch(/the ConfigMap the operator writes would need \d+ bytes/);
    expect(r.outcomes.find((o) => o.name === 'small')?.accepted.ok).toBe(true);
    expect(overflowOf(r)).toBeUndefined();
    expect(encodeData('ConfigMap', { 'config.yaml': r.configText }).bytes).toBeLessThanOrEqual(
      OBJECT_DATA_LIMIT,
    );
  });

  it('sheds the namespace holding the most first, not the single largest tenant', async () => {
    // team-b spreads 48,000 keys over 16 AINamespaces (3,000 each); team-a has one honest tenant with
    // 6,000: largest-object-first would have dropped team-a's tenant
    const namespaces = [tenant('honest', { match: { apiKeys: { secretRefs: [{ name: 'honest' }] } } })];
    const secrets: Record<string, Record<string, string>> = {
      'team-a/p-key': { apiKey: 'a' },
      'team-a/honest': manyKeys(6000),
    };
    for (let i = 0; i < 16; i++) {
      namespaces.push(
        tenant(`spread-${i}`, { match: { apiKeys: { secretRefs: [{ name: `k${i}` }] } } }, 'team-b'),
      );
      const keys: Record<string, string> = {};
      for (let j = 0; j < 3000; j++) keys[`k${j}`] = `sk-b-${i}-${j}`;
      secrets[`team-b/k${i}`] = keys;
    }
    const r = await renderChecked(
      inventory({ providers: [provider('p')], routes: [route('r', ['p'])], namespaces, secrets }),
      OPTS,
    );
    expect(r.outcomes.find((o) => o.name === 'honest')?.accepted.ok).toBe(true);
    const shed = r.outcomes.filter((o) => !o.accepted.ok);
    expect(shed.length).toBeGreaterThan(0);
    expect(shed.every((o) => o.namespace === 'team-b')).toBe(true);
    expect(encodeData('Secret', r.secretData).bytes).toBeLessThanOrEqual(OBJECT_DATA_LIMIT);
  });
});
