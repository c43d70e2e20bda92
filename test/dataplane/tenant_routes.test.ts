// Two tenants whose routes match the same model each get their own route (route choice skips
// routes the caller may not use); a tenant with no allowed route for a model gets 404 model_not_found,
// as for a model nobody serves (another tenant's route is neither named nor confirmed).
import { createHash } from 'node:crypto';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InProcessDataplane, startDataplane } from '../helpers/dataplane.ts';

const sha = (k: string) => createHash('sha256').update(k).digest('hex');
let dp: InProcessDataplane;

beforeAll(async () => {
  dp = await startDataplane({
    providers: [
      { name: 'small', type: 'mock', mock: { outputTokens: 2, text: 'small small' } },
      { name: 'large', type: 'mock', mock: { outputTokens: 2, text: 'large large' } },
    ],
    routes: [
      { name: 'for-a', match: { models: ['m'] }, backends: [{ provider: 'small' }] },
      { name: 'for-b', match: { models: ['m'] }, backends: [{ provider: 'large' }] },
      { name: 'only-a', match: { models: ['special'] }, backends: [{ provider: 'small' }] },
    ],
    namespaces: [
      { name: 'a', match: { apiKeys: [{ name: 'ka', sha256: sha('key-a') }] }, routes: ['for-a', 'only-a'] },
      { name: 'b', match: { apiKeys: [{ name: 'kb', sha256: sha('key-b') }] }, routes: ['for-b'] },
    ],
  });
});
afterAll(() => dp?.stop());

const ask = (key: string, model = 'm') =>
  new OpenAI({ baseURL: dp.baseURL, apiKey: key, maxRetries: 0 }).chat.completions.create({
    model,
    messages: [{ role: 'user', content: 'hi' }],
  });

describe('route choice per tenant', () => {
  it('sends each tenant to the route it may use', async () => {
    expect((await ask('key-a')).choices[0]?.message.content).toBe('small small');
    expect((await ask('key-b')).choices[0]?.message.content).toBe('large large');
  });

  it('answers 404 model_not_found when a route matches but the tenant may not use it', async () => {
    const err = (await ask('key-b', 'special').catch((e: unknown) => e)) as InstanceType<
      typeof OpenAI.APIError
    >;
    expect(err.status).toBe(404);
    expect((err.error as { code: string }).code).toBe('model_not_found');
    expect(err.headers?.get('x-sluice-error-code')).toBe('SLUICE_ERR_UNKNOWN_MODEL');
  });
});
