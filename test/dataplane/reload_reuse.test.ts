// A running Dataplane's hot reload reuses what did not change (config/reuse_cache.ts): after one route
// of several changed, the others keep their compiled form (and with it their balancer and retry
// budget), the changed one is compiled anew and served at once, and the old runtime that in-flight
// requests hold is left whole.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InProcessDataplane, reloadTo, startDataplane } from '../helpers/dataplane.ts';

const config = (model3: string) => ({
  server: { port: 0 },
  access: 'open',
  providers: [
    // an HTTP provider keeps its runtime across reloads (a mock one is replaced on every load)
    { name: 'up', type: 'openai', baseUrl: 'http://127.0.0.1:9', credentials: { apiKey: { env: 'PATH' } } },
    { name: 'mock', type: 'mock', mock: { outputTokens: 2 } },
  ],
  routes: [
    { name: 'r1', match: { models: ['m1'] }, backends: [{ provider: 'up' }] },
    { name: 'r2', match: { models: ['m2'] }, backends: [{ provider: 'up' }] },
    { name: 'r3', match: { models: [model3] }, backends: [{ provider: 'mock' }] },
  ],
});

let dp: InProcessDataplane;
beforeAll(async () => {
  dp = await startDataplane(config('m3'));
});
afterAll(() => dp?.stop());

const ask = (model: string) =>
  fetch(`${dp.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
  });

describe('hot reload reuse', () => {
  it('recompiles only the changed route and serves it at once; the old runtime stays whole', async () => {
    const old = dp.dataplane.runtime;
    expect((await ask('m3')).status).toBe(200);
    await reloadTo(dp, config('m3-new'));
    const next = dp.dataplane.runtime;
    expect(next.routes[0]).toBe(old.routes[0]);
    expect(next.routes[1]).toBe(old.routes[1]);
    expect(next.routes[2]).not.toBe(old.routes[2]);
    expect(old.routes[2]?.matchesModel('m3')).toBe(true);
    expect(next.routes[2]?.matchesModel('m3')).toBe(false);
    expect((await ask('m3-new')).status).toBe(200);
    expect((await ask('m3')).status).toBe(404);
  });
});
