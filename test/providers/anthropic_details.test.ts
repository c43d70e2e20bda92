// Anthropic details clients rely on: anthropic-beta passed on to Anthropic backends (all values, or a
// provider's allowlist; never from other client APIs), and POST /v1/messages/count_tokens answered by
// Sluice's own counter with the tokenizer of the model's route.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countPromptTokens } from '../../dataplane/src/tokens/counter.ts';
import { anthropicPromptText } from '../../dataplane/src/wire/anthropic/format.ts';
import { type FakeAnthropic, startFakeAnthropic } from '../fakes/anthropic.ts';
import { type InProcessDataplane, startDataplane } from '../helpers/dataplane.ts';
import { UPSTREAM_KEY } from '../helpers/secrets.ts';

let fake: FakeAnthropic;
let dp: InProcessDataplane;
let client: Anthropic;

beforeAll(async () => {
  fake = await startFakeAnthropic({ apiKey: UPSTREAM_KEY });
  const key = { apiKey: { env: 'SLUICE_TEST_KEY' } };
  dp = await startDataplane({
    providers: [
      { name: 'all', type: 'anthropic', baseUrl: fake.url, credentials: key },
      {
        name: 'some',
        type: 'anthropic',
        baseUrl: fake.url,
        credentials: key,
        forwardBetas: ['prompt-caching-2024-07-31'],
      },
      { name: 'mock', type: 'mock', models: [{ name: 'gpt-4o-mini' }] },
    ],
    routes: [
      { name: 'all', match: { models: ['claude-all'] }, backends: [{ provider: 'all' }] },
      { name: 'some', match: { models: ['claude-some'] }, backends: [{ provider: 'some' }] },
      { name: 'gpt', match: { models: ['gpt-4o-mini'] }, backends: [{ provider: 'mock' }] },
    ],
  });
  client = new Anthropic({ baseURL: dp.url, apiKey: 'unused', maxRetries: 0 });
});

afterAll(async () => {
  await dp?.stop();
  await fake?.close();
});

const BETAS = 'prompt-caching-2024-07-31,interleaved-thinking-2025-05-14';
const ask = (model: string) =>
  client.messages.create(
    { model, max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] },
    { headers: { 'anthropic-beta': BETAS } },
  );

describe('anthropic-beta', () => {
  it('is passed on to an Anthropic provider whole by default', async () => {
    await ask('claude-all');
    expect(fake.requests.at(-1)?.headers['anthropic-beta']).toBe(BETAS);
  });

  it("is filtered by the provider's forwardBetas", async () => {
    await ask('claude-some');
    expect(fake.requests.at(-1)?.headers['anthropic-beta']).toBe('prompt-caching-2024-07-31');
  });

  it('is not taken from clients of another API', async () => {
    const openai = new OpenAI({ baseURL: dp.baseURL, apiKey: 'unused', maxRetries: 0 });
    await openai.chat.completions.create(
      { model: 'claude-all', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] },
      { headers: { 'anthropic-beta': BETAS } },
    );
    expect(fake.requests.at(-1)?.headers['anthropic-beta']).toBeUndefined();
  });
});

describe('POST /v1/messages/count_tokens', () => {
  const body = {
    system: 'You are terse.',
    messages: [
      { role: 'user' as const, content: 'Count these words, please.' },
      { role: 'assistant' as const, content: 'Five.' },
      { role: 'user' as const, content: 'And these?' },
    ],
  };

  it('counts exactly with the route model’s tokenizer, and says so', async () => {
    const res = await client.messages.countTokens({ model: 'gpt-4o-mini', ...body }).withResponse();
    const expected = countPromptTokens(anthropicPromptText({ ...body }), 4, 'o200k_base');
    expect(res.data.input_tokens).toBe(expected);
    expect(res.response.headers.get('x-sluice-token-count')).toBe('exact');
  });

  it('estimates for a model whose tokenizer is not public, and never calls the upstream', async () => {
    const before = fake.requests.length;
    const res = await client.messages.countTokens({ model: 'claude-all', ...body }).withResponse();
    expect(res.data.input_tokens).toBeGreaterThan(10);
    expect(res.response.headers.get('x-sluice-token-count')).toBe('estimate');
    expect(fake.requests.length).toBe(before);
  });

  it('answers bad input and unknown models in Anthropic’s error shape', async () => {
    await expect(client.messages.countTokens({ model: 'claude-all', messages: [] })).rejects.toBeInstanceOf(
      Anthropic.BadRequestError,
    );
    await expect(
      client.messages.countTokens({ model: 'nope', messages: [{ role: 'user', content: 'x' }] }),
    ).rejects.toBeInstanceOf(Anthropic.NotFoundError);
  });

  // found by test/reliability/translator_fuzz.test.ts: errors raised before the handler (the body
  // parser refusing JSON or a `__proto__` key, a body too large) were answered in OpenAI's shape
  it('answers a body the parser refuses in Anthropic’s error shape too', async () => {
    for (const raw of ['{"model":', '{"model":"claude-all","messages":[],"__proto__":{"x":1}}']) {
      const res = await fetch(`${dp.url}/v1/messages/count_tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
        body: raw,
      });
      expect(res.status, raw).toBe(400);
      expect(res.headers.get('x-sluice-error-code')).toBe('SLUICE_ERR_INVALID_JSON');
      const body = (await res.json()) as { type: string; error: { type: string; message: string } };
      expect(body.type, raw).toBe('error');
      expect(body.error.type).toBe('invalid_request_error');
      expect(body.error.message.length).toBeGreaterThan(0);
    }
  });
});
