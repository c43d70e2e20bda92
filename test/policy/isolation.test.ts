// Tenant isolation and the response cache, on two dataplane replicas sharing one real Redis:
// one namespace cannot spend another's budget, see another's models, or read another's cache entry;
// a cached answer (L1 or Redis L2) counts against request limits but not against token windows.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InProcessDataplane, startDataplane } from '../helpers/dataplane.ts';
import { type RedisServer, startRedis } from '../helpers/redis.ts';
import { client, hello, post, sdkError, sha256, tenantConfig } from './fixtures.ts';

let redis: RedisServer;
let one: InProcessDataplane;
let two: InProcessDataplane;
const KEY_A = 'sk-tenant-a';
const KEY_B = 'sk-tenant-b';

beforeAll(async () => {
  redis = await startRedis();
  const config = tenantConfig({
    store: { type: 'redis', redis: { url: redis.url, keyPrefix: 'iso:', commandTimeoutMs: 2_000 } },
    namespaces: [
      {
        name: 'tenant-a',
        match: { apiKeys: [{ name: 'a', sha256: sha256(KEY_A) }] },
        models: ['gpt-4o-mini'],
        policies: ['standard'],
        cache: { enabled: true, ttlSeconds: 60 },
      },
      {
        name: 'tenant-b',
        match: { apiKeys: [{ name: 'b', sha256: sha256(KEY_B) }] },
        models: ['gpt-4o-mini', 'mock-large'],
        policies: ['standard'],
        cache: { enabled: true },
      },
    ],
    // One policy, referenced by both namespaces: its counters are still per namespace.
    policies: [
      {
        name: 'standard',
        requests: { limit: 50, window: 'hour' },
        tokens: [{ limit: 150, window: 'day', kind: 'total' }],
      },
    ],
  });
  one = await startDataplane(config);
  two = await startDataplane(config);
});

afterAll(async () => {
  await one?.stop();
  await two?.stop();
  await redis?.stop();
});

const ask = (dp: InProcessDataplane, key: string, content: string, extra: Record<string, unknown> = {}) =>
  client(dp.baseURL, key)
    .chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content }],
      max_tokens: 10,
      ...extra,
    })
    .withResponse();

describe('response cache', () => {
  it('misses, then hits in L1, then hits on another replica through Redis L2', async () => {
    const first = await ask(one, KEY_A, 'what is a sluice?');
    expect(first.response.headers.get('x-cache')).toBe('miss');
    const again = await ask(one, KEY_A, 'what is a sluice?');
    expect(again.response.headers.get('x-cache')).toBe('hit');
    expect(again.data).toEqual(first.data);
    const elsewhere = await ask(two, KEY_A, 'what is a sluice?');
    expect(elsewhere.response.headers.get('x-cache')).toBe('hit');
    expect(elsewhere.data).toEqual(first.data);
  });

  it('never serves one namespace the entry of another', async () => {
    const b = await ask(two, KEY_B, 'what is a sluice?');
    expect(b.response.headers.get('x-cache')).toBe('miss');
    expect((await ask(one, KEY_B, 'what is a sluice?')).response.headers.get('x-cache')).toBe('hit');
  });

  it('keys on the normalised request: field order is irrelevant, sampling parameters are not', async () => {
    await ask(one, KEY_A, 'normalise me', { temperature: 0.5, top_p: 1 });
    const reordered = await post(
      one.url,
      {
        top_p: 1,
        max_tokens: 10,
        temperature: 0.5,
        messages: [{ content: 'normalise me', role: 'user' }],
        model: 'gpt-4o-mini',
      },
      { authorization: `Bearer ${KEY_A}` },
    );
    expect(reordered.headers.get('x-cache')).toBe('hit');
    const warmer = await ask(one, KEY_A, 'normalise me', { temperature: 0.9, top_p: 1 });
    expect(warmer.response.headers.get('x-cache')).toBe('miss');
  });

  it('does not cache streams', async () => {
    const { response } = await client(one.baseURL, KEY_A)
      .chat.completions.create({ ...hello, stream: true })
      .withResponse();
    expect(response.headers.get('x-cache')).toBeNull();
  });

  it('charges a hit to the request limit but not to the token window', async () => {
    const miss = await ask(one, KEY_A, 'count me once');
    expect(miss.response.headers.get('x-cache')).toBe('miss');
    const hit = await ask(one, KEY_A, 'count me once');
    expect(hit.response.headers.get('x-cache')).toBe('hit');
    const next = await ask(one, KEY_A, 'count me once');
    const remaining = (r: typeof hit, h: string) => Number(r.response.headers.get(h));
    expect(remaining(next, 'x-ratelimit-remaining-requests')).toBe(
      remaining(hit, 'x-ratelimit-remaining-requests') - 1,
    );
    // Both hits saw the same token headroom: the reservation of a hit is refunded in full.
    expect(remaining(next, 'x-ratelimit-remaining-tokens')).toBe(
      remaining(hit, 'x-ratelimit-remaining-tokens'),
    );
  });
});

describe('tenant isolation', () => {
  it('shows each namespace only its own models', async () => {
    const ids = async (key: string) =>
      (await client(two.baseURL, key).models.list()).data.map((m) => m.id).sort();
    expect(await ids(KEY_A)).toEqual(['gpt-4o-mini']);
    expect(await ids(KEY_B)).toEqual(['gpt-4o-mini', 'mock-large']);
    expect(
      (await sdkError(client(one.baseURL, KEY_A).chat.completions.create({ ...hello, model: 'mock-large' })))
        .status,
    ).toBe(403);
  });

  it('lets one namespace exhaust its budget without touching the other', async () => {
    let refused = false;
    for (let i = 0; i < 20 && !refused; i++) {
      const r = await ask(i % 2 ? one : two, KEY_A, `spend ${i}`).catch((e: unknown) => e);
      if (!(r && typeof r === 'object' && 'data' in r)) {
        expect((r as { status: number }).status).toBe(429);
        refused = true;
      }
    }
    expect(refused).toBe(true);
    const b = await ask(one, KEY_B, 'still mine');
    expect(b.data.choices[0]?.message.content).toBeTruthy();
    expect(Number(b.response.headers.get('x-ratelimit-remaining-tokens'))).toBeGreaterThan(0);
  });
});
