// A response a native OpenAI backend served with `store` on is kept twice: in Sluice's state store and
// in OpenAI's (Sluice passes the client's `store` on, and OpenAI's copy is what lets it link the ids a
// later turn names). DELETE /v1/responses/{id} through Sluice removed only Sluice's record, so a
// client that deleted a conversation still had it at OpenAI for OpenAI's retention. Sluice now deletes
// the provider's copy first and its own after; a failure at the provider keeps Sluice's record and
// fails the DELETE, so a retry finishes it. Real in-process dataplane (memory and Redis stores), the
// OpenAI fake keeping what it stores (openai_store.ts), the official openai SDK, two tenants.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeAnthropic, startFakeAnthropic } from '../fakes/anthropic.ts';
import { type FakeAgentic, startFakeAgentic } from '../fakes/openai_agentic.ts';
import { type InProcessDataplane, startDataplane } from '../helpers/dataplane.ts';
import { type RedisServer, startRedis } from '../helpers/redis.ts';
import { UPSTREAM_KEY } from '../helpers/secrets.ts';
import { sha256 } from '../policy/fixtures.ts';

let redis: RedisServer;
let oa: FakeAgentic;
let anthropic: FakeAnthropic;

beforeAll(async () => {
  [redis, oa, anthropic] = await Promise.all([
    startRedis(),
    startFakeAgentic(UPSTREAM_KEY),
    startFakeAnthropic({ apiKey: UPSTREAM_KEY }),
  ]);
}, 30_000);

afterAll(async () => {
  await Promise.all([redis?.stop(), oa?.close(), anthropic?.close()]);
});

const deletes = () => oa.requests.filter((r) => r.method === 'DELETE').map((r) => r.path);

for (const storeType of ['memory', 'redis'] as const) {
  describe(`DELETE /v1/responses/{id} of a natively served response (${storeType} store)`, () => {
    let dp: InProcessDataplane;
    let a: OpenAI;
    let b: OpenAI;

    beforeAll(async () => {
      const key = { apiKey: { env: 'SLUICE_TEST_KEY' } };
      dp = await startDataplane({
        store: storeType === 'redis' ? { type: 'redis', redis: { url: redis.url } } : { type: 'memory' },
        providers: [
          { name: 'oa', type: 'openai', baseUrl: `${oa.url}/v1`, credentials: key },
          { name: 'claude', type: 'anthropic', baseUrl: anthropic.url, credentials: key },
        ],
        routes: [
          { name: 'o', match: { models: ['gpt-x'] }, backends: [{ provider: 'oa', model: 'gpt-5' }] },
          { name: 'c', match: { models: ['claude-x'] }, backends: [{ provider: 'claude' }] },
        ],
        namespaces: [
          { name: 'team-a', match: { apiKeys: [{ name: 'k', sha256: sha256(`sk-del-a-${storeType}`) }] } },
          { name: 'team-b', match: { apiKeys: [{ name: 'k', sha256: sha256(`sk-del-b-${storeType}`) }] } },
        ],
      });
      a = new OpenAI({ baseURL: dp.baseURL, apiKey: `sk-del-a-${storeType}`, maxRetries: 0 });
      b = new OpenAI({ baseURL: dp.baseURL, apiKey: `sk-del-b-${storeType}`, maxRetries: 0 });
    });

    afterAll(async () => {
      await dp?.stop();
    });

    it("deletes OpenAI's copy too, streamed or whole", async () => {
      const whole = await a.responses.create({ model: 'gpt-x', input: 'Hello' });
      const streamed = await a.responses.stream({ model: 'gpt-x', input: 'Hello' }).finalResponse();
      for (const r of [whole, streamed]) {
        expect(oa.store.responses.has(r.id)).toBe(true);
        expect((await a.responses.delete(r.id)) as unknown).toMatchObject({ id: r.id, deleted: true });
        expect(oa.store.responses.has(r.id)).toBe(false);
        expect(oa.store.issued.has(r.output[0]?.id as string)).toBe(false);
        await expect(a.responses.retrieve(r.id)).rejects.toMatchObject({ status: 404 });
      }
    });

    it('asks no provider when the answer was translated (Sluice keeps the only copy)', async () => {
      anthropic.setScript(() => ({ content: [{ type: 'text', text: 'Hi.' }] }));
      const r = await a.responses.create({ model: 'claude-x', input: 'Hello' });
      const before = deletes().length;
      expect((await a.responses.delete(r.id)) as unknown).toMatchObject({ deleted: true });
      expect(deletes().length).toBe(before);
    });

    it('a provider that fails the DELETE keeps the record and fails it; the retry finishes it', async () => {
      const r = await a.responses.create({ model: 'gpt-x', input: 'Hello' });
      oa.failNext(1);
      const err = await a.responses.delete(r.id).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.APIError);
      expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
      expect((err as Error).message).toContain('retry the DELETE');
      expect((await a.responses.retrieve(r.id)).id).toBe(r.id);
      expect((await a.responses.delete(r.id)) as unknown).toMatchObject({ deleted: true });
      expect(oa.store.responses.has(r.id)).toBe(false);
    });

    it('one the provider no longer has (deleted there, expired) is still deleted at Sluice', async () => {
      const r = await a.responses.create({ model: 'gpt-x', input: 'Hello' });
      oa.store.delete(r.id);
      expect((await a.responses.delete(r.id)) as unknown).toMatchObject({ deleted: true });
      await expect(a.responses.retrieve(r.id)).rejects.toMatchObject({ status: 404 });
    });

    it("another tenant's DELETE reaches neither store", async () => {
      const r = await a.responses.create({ model: 'gpt-x', input: 'Hello' });
      const before = deletes().length;
      await expect(b.responses.delete(r.id)).rejects.toMatchObject({ status: 404 });
      expect(deletes().length).toBe(before);
      expect(oa.store.responses.has(r.id)).toBe(true);
      expect((await a.responses.retrieve(r.id)).id).toBe(r.id);
    });
  });
}
