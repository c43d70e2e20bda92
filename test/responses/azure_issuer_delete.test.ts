// DELETE /v1/responses/{id} of a response Azure OpenAI served natively (Responses API, api-version
// 2025-03-01-preview or later): Sluice deletes Azure's own copy first (issuer_delete.ts), at Azure's
// address for it, `/openai/responses/{id}?api-version=...` with the `api-key` header, then its own.
// Only the path was unit-tested; this runs the whole way against a fake Azure resource that speaks
// Azure's documented wire format and checks it (azure_responses.ts), with the official openai SDK,
// on the memory store and a real redis-server. Azure answers a path or api-version it does not serve
// with 404 "Resource not found": that 404 says nothing about the response, and Sluice counted it as
// "already deleted there", dropping its record while Azure still kept the conversation.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeAzureResponses, startFakeAzureResponses } from '../fakes/azure_responses.ts';
import { type FakeAgentic, startFakeAgentic } from '../fakes/openai_agentic.ts';
import { type InProcessDataplane, reloadTo, startDataplane } from '../helpers/dataplane.ts';
import { type RedisServer, startRedis } from '../helpers/redis.ts';
import { UPSTREAM_KEY } from '../helpers/secrets.ts';
import { sha256 } from '../policy/fixtures.ts';

// the resource's key: the test secret the log scrub looks for (test/helpers/secrets.ts)
const AZURE_KEY = UPSTREAM_KEY;
const API_VERSION = '2025-04-01-preview';

let redis: RedisServer;
let openai: FakeAgentic;
let azure: FakeAzureResponses;

beforeAll(async () => {
  [redis, openai] = await Promise.all([startRedis(), startFakeAgentic(UPSTREAM_KEY)]);
  azure = await startFakeAzureResponses({
    apiKey: AZURE_KEY,
    deployments: ['sluice-gpt5'],
    backend: openai,
    backendKey: UPSTREAM_KEY,
  });
}, 30_000);

afterAll(async () => {
  await Promise.all([redis?.stop(), azure?.close(), openai?.close()]);
});

const deletes = () => azure.requests.filter((r) => r.method === 'DELETE');

for (const storeType of ['memory', 'redis'] as const) {
  describe(`DELETE of a response Azure OpenAI served natively (${storeType} store)`, () => {
    let dp: InProcessDataplane;
    let client: OpenAI;
    const config = (apiVersion: string) => ({
      store: storeType === 'redis' ? { type: 'redis', redis: { url: redis.url } } : { type: 'memory' },
      providers: [
        {
          name: 'az',
          type: 'azure-openai',
          baseUrl: azure.url,
          apiVersion,
          credentials: { apiKey: { env: 'SLUICE_TEST_KEY' } },
        },
      ],
      routes: [
        { name: 'az', match: { models: ['gpt-az'] }, backends: [{ provider: 'az', model: 'sluice-gpt5' }] },
      ],
      namespaces: [
        { name: 'team', match: { apiKeys: [{ name: 'k', sha256: sha256(`sk-az-${storeType}`) }] } },
      ],
    });

    beforeAll(async () => {
      dp = await startDataplane(config(API_VERSION));
      client = new OpenAI({ baseURL: dp.baseURL, apiKey: `sk-az-${storeType}`, maxRetries: 0 });
    });

    afterAll(async () => {
      await dp?.stop();
    });

    it.each(['whole', 'streamed'] as const)(
      "a %s answer: Azure's copy goes first, at Azure's address with its key",
      async (mode) => {
        const body = { model: 'gpt-az', input: 'Hello' };
        const r =
          mode === 'whole'
            ? await client.responses.create(body)
            : await client.responses.stream(body).finalResponse();
        expect(r.status).toBe('completed');
        // natively served: Azure (its OpenAI behind) stored it
        const created = azure.requests.at(-1);
        expect(created).toMatchObject({ method: 'POST', path: '/openai/responses' });
        expect(openai.store.responses.has(r.id)).toBe(true);
        expect((await client.responses.delete(r.id)) as unknown).toEqual({
          id: r.id,
          object: 'response',
          deleted: true,
        });
        const del = deletes().at(-1);
        expect(del?.path).toBe(`/openai/responses/${r.id}`);
        expect([...(del?.query ?? [])]).toEqual([['api-version', API_VERSION]]);
        expect(del?.headers['api-key']).toBe(AZURE_KEY);
        expect(del?.headers.authorization).toBeUndefined();
        expect(del?.body).toBe('');
        expect(openai.store.responses.has(r.id)).toBe(false);
        expect(openai.store.issued.has(r.output[0]?.id as string)).toBe(false);
        await expect(client.responses.retrieve(r.id)).rejects.toMatchObject({ status: 404 });
      },
    );

    it('Azure failing the DELETE keeps the record and fails it; the retry finishes it', async () => {
      const r = await client.responses.create({ model: 'gpt-az', input: 'Hello' });
      openai.failNext(1);
      const err = await client.responses.delete(r.id).catch((e: unknown) => e);
      expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
      expect((await client.responses.retrieve(r.id)).id).toBe(r.id);
      expect((await client.responses.delete(r.id)) as unknown).toMatchObject({ deleted: true });
      expect(openai.store.responses.has(r.id)).toBe(false);
    });

    it('a response Azure no longer has (its 404 for the response) is still deleted at Sluice', async () => {
      const r = await client.responses.create({ model: 'gpt-az', input: 'Hello' });
      openai.store.delete(r.id);
      expect((await client.responses.delete(r.id)) as unknown).toMatchObject({ deleted: true });
      await expect(client.responses.retrieve(r.id)).rejects.toMatchObject({ status: 404 });
    });

    it("Azure's 404 for its address (not the response) keeps the record: Azure still has the copy", async () => {
      const r = await client.responses.create({ model: 'gpt-az', input: 'Hello' });
      // the provider moved to an api-version without the Responses API (the preset's default)
      await reloadTo(dp, config('2024-10-21'));
      const err = await client.responses.delete(r.id).catch((e: unknown) => e);
      expect(deletes().at(-1)?.query.get('api-version')).toBe('2024-10-21');
      expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
      expect((err as Error).message).toContain("provider 'az'");
      expect(openai.store.responses.has(r.id)).toBe(true);
      expect((await client.responses.retrieve(r.id)).id).toBe(r.id);
      // back on a Responses api-version, the retry deletes both copies
      await reloadTo(dp, config(API_VERSION));
      expect((await client.responses.delete(r.id)) as unknown).toMatchObject({ deleted: true });
      expect(openai.store.responses.has(r.id)).toBe(false);
    });
  });
}
