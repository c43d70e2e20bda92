// One tenant storing many Responses through a real dataplane on a real Redis stays within
// `responses.redisMaxBytesPerTenant`: its own oldest conversations make room, another tenant's stay
// (store/redis_bounded.ts; the store-level cases, concurrency included, are in redis_bounded.test.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InProcessDataplane, startDataplane } from '../helpers/dataplane.ts';
import { type RedisServer, startRedis } from '../helpers/redis.ts';
import { client, sdkError, sha256, tenantConfig } from '../policy/fixtures.ts';

const BOUND = 12_000;
let redis: RedisServer;
let dp: InProcessDataplane;

beforeAll(async () => {
  redis = await startRedis();
  dp = await startDataplane({
    ...tenantConfig({
      store: { type: 'redis', redis: { url: redis.url, keyPrefix: 'rb:', commandTimeoutMs: 2_000 } },
      mock: { outputTokens: 12, chunkTokens: 1 },
      namespaces: [
        { name: 'team-a', match: { apiKeys: [{ name: 'k', sha256: sha256('sk-bounds-a') }] } },
        { name: 'team-b', match: { apiKeys: [{ name: 'k', sha256: sha256('sk-bounds-b') }] } },
      ],
    }),
    responses: { redisMaxBytesPerTenant: BOUND },
  });
}, 60_000);

afterAll(async () => {
  await dp?.stop();
  await redis?.stop();
});

describe("a tenant's stored responses in Redis", () => {
  it("stay within the tenant's bound: its oldest make room, another tenant's stay", async () => {
    const a = client(dp.baseURL, 'sk-bounds-a');
    const b = client(dp.baseURL, 'sk-bounds-b');
    const theirs = await b.responses.create({ model: 'gpt-4o-mini', input: 'remember me' });
    const mine: string[] = [];
    for (let i = 0; i < 30; i++)
      mine.push(
        (await a.responses.create({ model: 'gpt-4o-mini', input: `flood ${i} ${'x'.repeat(200)}` })).id,
      );
    const used = Number(redis.cli('GET', 'rb:rec:{team-a}:#used').trim());
    expect(used).toBeGreaterThan(BOUND / 2);
    expect(used).toBeLessThanOrEqual(BOUND);
    // team-a's first conversation made room for its later ones; its latest continues
    expect((await sdkError(a.responses.retrieve(mine[0] as string))).status).toBe(404);
    const next = await a.responses.create({
      model: 'gpt-4o-mini',
      input: 'and then?',
      previous_response_id: mine.at(-1) as string,
    });
    expect(next.status).toBe('completed');
    // team-b's conversation is untouched
    expect((await b.responses.retrieve(theirs.id)).id).toBe(theirs.id);
  });
});
