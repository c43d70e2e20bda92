// Redis dies mid-load. Fail-open replicas keep serving on their local limit/N share; fail-closed ones
// answer 503 SLUICE_ERR_STORE_UNAVAILABLE at once (no request hangs on Redis); /readyz and
// sluice_store_healthy report it; when Redis is back both recover by themselves, shared limits apply
// again and the usage counted locally during the outage is merged into Redis.
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countPromptTokens } from '../../dataplane/src/tokens/counter.ts';
import { type InProcessDataplane, startDataplane } from '../helpers/dataplane.ts';
import { type RedisServer, startRedis } from '../helpers/redis.ts';
import { post, sha256, tenantConfig } from './fixtures.ts';

let redis: RedisServer;
let open: InProcessDataplane;
let closed: InProcessDataplane;
const body = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }], max_tokens: 5 };

const storeCfg = (failMode: 'open' | 'closed', keyPrefix: string) => ({
  type: 'redis',
  redis: { url: redis.url, keyPrefix, failMode, replicas: 2, commandTimeoutMs: 500, retryIntervalMs: 200 },
});

beforeAll(async () => {
  redis = await startRedis();
  const namespaces = [
    { name: 'ns', match: { apiKeys: [{ name: 'k', sha256: sha256('sk-ns') }] }, policies: ['p'] },
  ];
  const policies = [
    {
      name: 'p',
      requests: { limit: 40, window: 'hour' },
      tokens: [{ limit: 100_000, window: 'day', kind: 'total' }],
    },
  ];
  open = await startDataplane(tenantConfig({ store: storeCfg('open', 'open:'), namespaces, policies }));
  closed = await startDataplane(tenantConfig({ store: storeCfg('closed', 'closed:'), namespaces, policies }));
});

afterAll(async () => {
  await open?.stop();
  await closed?.stop();
  await redis?.stop();
});

async function call(
  dp: InProcessDataplane,
): Promise<{ status: number; ms: number; code?: string; retry: string | null }> {
  const t0 = performance.now();
  const r = await post(dp.url, body, { authorization: 'Bearer sk-ns' });
  return {
    status: r.status,
    ms: performance.now() - t0,
    code: (r.json.error as { code?: string } | undefined)?.code,
    retry: r.headers.get('retry-after'),
  };
}

async function readyz(dp: InProcessDataplane): Promise<{ status: number; store: Record<string, unknown> }> {
  const r = await fetch(`${dp.adminUrl}/readyz`);
  const j = (await r.json()) as { policy: { store: Record<string, unknown> } };
  return { status: r.status, store: j.policy.store };
}

async function storeHealthyMetric(dp: InProcessDataplane): Promise<number> {
  const m = /^sluice_store_healthy (\d)/m.exec(await (await fetch(`${dp.adminUrl}/metrics`)).text());
  return Number(m?.[1]);
}

describe('Redis outage', () => {
  it('keeps flowing fail-open, 503s fail-closed, and recovers on its own', async () => {
    // Load on both replicas while Redis is healthy.
    for (let i = 0; i < 5; i++) {
      expect((await call(open)).status).toBe(200);
      expect((await call(closed)).status).toBe(200);
    }
    // Kill Redis in the middle of a burst of concurrent requests.
    const inFlight = Array.from({ length: 6 }, (_, i) => call(i % 2 ? open : closed));
    await redis.kill();
    for (const r of await Promise.all(inFlight)) {
      expect([200, 503]).toContain(r.status);
      expect(r.ms).toBeLessThan(3_000);
    }

    // Fail-closed: an immediate 503 with the documented code and a Retry-After.
    const c = await call(closed);
    expect(c).toMatchObject({ status: 503, code: 'SLUICE_ERR_STORE_UNAVAILABLE', retry: '1' });
    expect(c.ms).toBeLessThan(2_000);
    expect((await readyz(closed)).store).toMatchObject({
      type: 'redis',
      healthy: false,
      mode: 'unavailable',
    });

    // Fail-open: the replica keeps answering on its share (40 per hour / 2 replicas = a burst of 20).
    // (Up to 3 of the burst above may already have been admitted locally; the merge check below
    // proves the share was exactly 20.)
    const during: number[] = [];
    for (let i = 0; i < 25; i++) during.push((await call(open)).status);
    const local = during.filter((s) => s === 200).length;
    expect(local).toBeGreaterThanOrEqual(17);
    expect(local).toBeLessThanOrEqual(20);
    expect(during.slice(local)).toEqual(Array(25 - local).fill(429));
    const ready = await readyz(open);
    expect(ready.status).toBe(200);
    expect(ready.store).toMatchObject({ healthy: false, mode: 'local-fallback' });
    expect(await storeHealthyMetric(open)).toBe(0);

    // Redis comes back (empty, no persistence): both replicas recover without a restart.
    await redis.restart();
    for (
      let i = 0;
      i < 100 &&
      ((await readyz(open)).store.healthy !== true || (await readyz(closed)).store.healthy !== true);
      i++
    )
      await sleep(100);
    expect((await readyz(open)).store).toMatchObject({ healthy: true, mode: 'shared' });
    expect((await readyz(closed)).store).toMatchObject({ healthy: true, mode: 'shared' });
    expect(await storeHealthyMetric(open)).toBe(1);
    expect((await call(closed)).status).toBe(200);

    // Exactly 20 requests were admitted locally, and their usage was merged into the shared window.
    const client = new Redis(redis.url);
    try {
      const [tokensKey] = await client.keys('open:{ns}:p:total:*');
      expect(tokensKey).toBeDefined();
      const merged = Number(await client.get(tokensKey as string));
      // 20 admitted requests, each reconciled to the mock's usage (its prompt count + 5 completion tokens).
      const prompt = countPromptTokens('hello', 1, 'o200k_base');
      expect(merged).toBe(20 * (prompt + 5));
    } finally {
      client.disconnect();
    }
    // Shared limits apply again: the fresh Redis bucket admits the full 40, then refuses.
    const after: number[] = [];
    for (let i = 0; i < 41; i++) after.push((await call(open)).status);
    expect(after.filter((s) => s === 200).length).toBe(40);
    expect(after.at(-1)).toBe(429);
  });
});
