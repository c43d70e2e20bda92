// Anthropic clients as tenants: the policy engine identifies them by the `x-api-key` header the
// @anthropic-ai/sdk sends, unknown keys get a 401 in Anthropic's envelope, and an output-token policy
// caps their answers with Anthropic's stop_reason max_tokens (whole and streamed).
import { createHash } from 'node:crypto';
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InProcessDataplane, startDataplane } from '../helpers/dataplane.ts';
import { CLIENT_KEY } from '../helpers/secrets.ts';

let dp: InProcessDataplane;

beforeAll(async () => {
  dp = await startDataplane({
    providers: [{ name: 'mock', type: 'mock', mock: { outputTokens: 12 } }],
    routes: [{ name: 'mock', match: { models: ['mock-*'] }, backends: [{ provider: 'mock' }] }],
    namespaces: [
      {
        name: 'team-a',
        match: { apiKeys: [{ name: 'a1', sha256: createHash('sha256').update(CLIENT_KEY).digest('hex') }] },
        policies: ['short'],
      },
    ],
    policies: [{ name: 'short', maxOutputTokens: { limit: 4, mode: 'clamp' } }],
  });
});

afterAll(async () => {
  await dp?.stop();
});

const hello: Anthropic.MessageParam[] = [{ role: 'user', content: 'hello' }];

describe('Anthropic clients as tenants', () => {
  it('identifies the client by x-api-key and applies its output policy (whole answer)', async () => {
    const client = new Anthropic({ baseURL: dp.url, apiKey: CLIENT_KEY, maxRetries: 0 });
    const msg = await client.messages.create({ model: 'mock-small', max_tokens: 500, messages: hello });
    expect(msg.stop_reason).toBe('max_tokens');
    expect(msg.usage.output_tokens).toBe(4);
  });

  it('applies the policy to a stream as well', async () => {
    const client = new Anthropic({ baseURL: dp.url, apiKey: CLIENT_KEY, maxRetries: 0 });
    const msg = await client.messages
      .stream({ model: 'mock-small', max_tokens: 500, messages: hello })
      .finalMessage();
    expect(msg.stop_reason).toBe('max_tokens');
    expect(msg.usage.output_tokens).toBe(4);
  });

  it('answers an unknown key with a 401 authentication_error in Anthropic envelope', async () => {
    const client = new Anthropic({ baseURL: dp.url, apiKey: 'sk-not-a-tenant', maxRetries: 0 });
    const err = await client.messages
      .create({ model: 'mock-small', max_tokens: 5, messages: hello })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.AuthenticationError);
    const e = err as InstanceType<typeof Anthropic.AuthenticationError>;
    expect(e.status).toBe(401);
    expect((e.error as { error: { type: string } }).error.type).toBe('authentication_error');
    expect(e.errorCode).toBe('SLUICE_ERR_UNAUTHENTICATED');
  });
});
