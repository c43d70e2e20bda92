// Which provider response headers reach the client: its rate-limit state under x-upstream-*, its
// request id as x-upstream-request-id, openai-processing-ms; never cookies or account details.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InProcessDataplane, startDataplane } from '../helpers/dataplane.ts';

let upstream: Server;
let dp: InProcessDataplane;

const PROVIDER_HEADERS = {
  'x-request-id': 'req_provider_123',
  'openai-processing-ms': '321',
  'x-ratelimit-remaining-requests': '499',
  'x-ratelimit-reset-tokens': '6ms',
  'openai-organization': 'org-secret-name',
  'openai-project': 'proj_hidden',
  'set-cookie': '__cf_bm=abc; path=/',
};

beforeAll(async () => {
  upstream = createServer(async (req, res) => {
    const parts: Buffer[] = [];
    for await (const c of req) parts.push(c as Buffer);
    const body = JSON.parse(Buffer.concat(parts).toString()) as { stream?: boolean };
    const base = { id: 'c', created: 1, model: 'm' };
    if (body.stream) {
      res.writeHead(200, { ...PROVIDER_HEADERS, 'content-type': 'text/event-stream' });
      const chunk = (delta: object, finish: string | null) =>
        `data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
      res.end(`${chunk({ role: 'assistant', content: 'hi' }, null)}${chunk({}, 'stop')}data: [DONE]\n\n`);
      return;
    }
    res.writeHead(200, { ...PROVIDER_HEADERS, 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        ...base,
        object: 'chat.completion',
        choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
      }),
    );
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`;
  dp = await startDataplane({
    providers: [
      { name: 'oa', type: 'openai', baseUrl: url, credentials: { apiKey: { env: 'SLUICE_TEST_KEY' } } },
    ],
    routes: [{ name: 'oa', match: { models: ['m'] }, backends: [{ provider: 'oa' }] }],
  });
});

afterAll(async () => {
  await dp?.stop();
  await new Promise((r) => upstream?.close(r));
});

function check(h: Headers): void {
  expect(h.get('x-upstream-request-id')).toBe('req_provider_123');
  expect(h.get('openai-processing-ms')).toBe('321');
  expect(h.get('x-upstream-x-ratelimit-remaining-requests')).toBe('499');
  expect(h.get('x-upstream-x-ratelimit-reset-tokens')).toBe('6ms');
  // Sluice's own request id stays Sluice's
  expect(h.get('x-request-id')).not.toBe('req_provider_123');
  for (const hidden of [
    'openai-organization',
    'openai-project',
    'set-cookie',
    'x-ratelimit-remaining-requests',
  ])
    expect(h.get(hidden)).toBeNull();
}

describe('provider response headers', () => {
  const client = () => new OpenAI({ baseURL: dp.baseURL, apiKey: 'unused', maxRetries: 0 });

  it('whole answers', async () => {
    const { response } = await client()
      .chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] })
      .withResponse();
    check(response.headers);
  });

  it('streams', async () => {
    const { data, response } = await client()
      .chat.completions.create({ model: 'm', stream: true, messages: [{ role: 'user', content: 'x' }] })
      .withResponse();
    for await (const _ of data) {
      // drain
    }
    check(response.headers);
  });
});
