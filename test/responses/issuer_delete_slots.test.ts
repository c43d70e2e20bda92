// DELETE /v1/responses/{id} of a natively served response also deletes OpenAI's copy (issuer_delete.ts),
// and that call is a request to the provider like any other: it takes the caller's turn under the
// provider's `maxConcurrency` and its tenant's share of the endpoint's connections, and its failures
// reach the circuit breaker. It was sent straight to an endpoint: a tenant deleting its stored
// responses all at once (or retrying DELETEs a slow provider failed, which keep the record so a
// retry can finish) put any number of requests on a provider configured for two at a time, beside
// everyone else's. Real in-process dataplane, the OpenAI fake counting what it answers at once, the
// official openai SDK.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeAgentic, startFakeAgentic } from '../fakes/openai_agentic.ts';
import { type InProcessDataplane, startDataplane } from '../helpers/dataplane.ts';
import { UPSTREAM_KEY } from '../helpers/secrets.ts';
import { sha256 } from '../policy/fixtures.ts';

let oa: FakeAgentic;
let dp: InProcessDataplane;
let a: OpenAI;
let b: OpenAI;

beforeAll(async () => {
  oa = await startFakeAgentic(UPSTREAM_KEY);
  dp = await startDataplane({
    store: { type: 'memory' },
    providers: [
      {
        name: 'oa',
        type: 'openai',
        baseUrl: `${oa.url}/v1`,
        credentials: { apiKey: { env: 'SLUICE_TEST_KEY' } },
        maxConcurrency: 2,
      },
    ],
    routes: [{ name: 'o', match: { models: ['gpt-x'] }, backends: [{ provider: 'oa', model: 'gpt-5' }] }],
    namespaces: [
      { name: 'team-a', match: { apiKeys: [{ name: 'k', sha256: sha256('sk-del-slots-a') }] } },
      { name: 'team-b', match: { apiKeys: [{ name: 'k', sha256: sha256('sk-del-slots-b') }] } },
    ],
  });
  a = new OpenAI({ baseURL: dp.baseURL, apiKey: 'sk-del-slots-a', maxRetries: 0 });
  b = new OpenAI({ baseURL: dp.baseURL, apiKey: 'sk-del-slots-b', maxRetries: 0 });
}, 30_000);

afterAll(async () => {
  await dp?.stop();
  await oa?.close();
});

describe('the provider-side DELETE of a stored response', () => {
  it("waits for its turn under the provider's maxConcurrency like any request", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push((await a.responses.create({ model: 'gpt-x', input: `n${i}` })).id);
    oa.holdDeletes(300);
    oa.maxInFlight(true);
    const [deleted, others] = await Promise.all([
      Promise.all(ids.map((id) => a.responses.delete(id) as Promise<unknown>)),
      Promise.all([1, 2].map((i) => b.responses.create({ model: 'gpt-x', input: `b${i}` }))),
    ]);
    oa.holdDeletes(0);
    expect(deleted).toEqual(ids.map((id) => expect.objectContaining({ id, deleted: true })));
    expect(others.map((r) => r.status)).toEqual(['completed', 'completed']);
    for (const id of ids) expect(oa.store.responses.has(id)).toBe(false);
    // two at a time, DELETEs included
    expect(oa.maxInFlight()).toBeLessThanOrEqual(2);
  });
});
