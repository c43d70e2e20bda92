// Counters live in a store that outlives config reloads: editing the config (a new route, a new
// tenant) must not hand anyone a fresh budget, while a changed limit applies at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InProcessDataplane, reloadTo, startDataplane } from '../helpers/dataplane.ts';
import { hello, post, sha256, tenantConfig } from './fixtures.ts';

let dp: InProcessDataplane;
const config = (limit: number, extraNs: unknown[] = []) =>
  tenantConfig({
    namespaces: [
      { name: 'ns', match: { apiKeys: [{ name: 'k', sha256: sha256('sk-ns') }] }, policies: ['p'] },
      ...extraNs,
    ],
    policies: [{ name: 'p', requests: { limit, window: 'hour' } }],
    routeCache: { enabled: true, ttlSeconds: 300 },
  });

beforeAll(async () => {
  dp = await startDataplane(config(2));
});
afterAll(() => dp?.stop());

const status = async () => (await post(dp.url, hello, { authorization: 'Bearer sk-ns' })).status;

describe('limits across hot reloads', () => {
  it('keeps counting through a reload, and applies a new limit at once', async () => {
    expect([await status(), await status(), await status()]).toEqual([200, 200, 429]);
    await reloadTo(dp, config(2, [{ name: 'other', match: { headers: [{ name: 'x-team', equals: 'o' }] } }]));
    expect(await status()).toBe(429);
    // A changed request limit is a new bucket: it applies at once.
    await reloadTo(dp, config(50));
    expect(await status()).toBe(200);
    const health = (await (await fetch(`${dp.adminUrl}/readyz`)).json()) as {
      policy: { namespaces: number };
    };
    expect(health.policy.namespaces).toBe(1);
  });

  it('keeps warm cache entries through a reload', async () => {
    const ask = () => post(dp.url, { ...hello, max_tokens: 3 }, { authorization: 'Bearer sk-ns' });
    expect((await ask()).headers.get('x-cache')).toBe('miss');
    await reloadTo(dp, config(51));
    expect((await ask()).headers.get('x-cache')).toBe('hit');
  });
});
