// OpenAI's reasoning models (gpt-5, o-series) refuse `max_tokens` ("Use 'max_completion_tokens'
// instead"). Anthropic clients (Claude Code, the anthropic SDK) always send max_tokens, and many chat
// clients still do: through an `openai` or `azure-openai` provider Sluice must send
// max_completion_tokens, or those clients cannot reach these models at all.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InProcessDataplane, startDataplane } from '../helpers/dataplane.ts';

type Obj = Record<string, unknown>;

let upstream: Server;
let dp: InProcessDataplane;
const seen: Obj[] = [];

/** Answers like OpenAI does for a reasoning model: max_tokens refused, max_completion_tokens taken. */
function reasoningModel(): Promise<string> {
  upstream = createServer(async (req, res) => {
    const parts: Buffer[] = [];
    for await (const c of req) parts.push(c as Buffer);
    const body = JSON.parse(Buffer.concat(parts).toString()) as Obj;
    seen.push(body);
    res.setHeader('content-type', 'application/json');
    if ('max_tokens' in body) {
      res.statusCode = 400;
      res.end(
        JSON.stringify({
          error: {
            message:
              "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
            type: 'invalid_request_error',
            param: 'max_tokens',
            code: 'unsupported_parameter',
          },
        }),
      );
      return;
    }
    res.end(
      JSON.stringify({
        id: 'chatcmpl-r',
        object: 'chat.completion',
        created: 1,
        model: body.model,
        choices: [
          { index: 0, message: { role: 'assistant', content: 'Thought hard.' }, finish_reason: 'stop' },
        ],
        usage: {
          prompt_tokens: 9,
          completion_tokens: 40,
          total_tokens: 49,
          completion_tokens_details: { reasoning_tokens: 36 },
        },
      }),
    );
  });
  return new Promise((r) =>
    upstream.listen(0, '127.0.0.1', () => r(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}`)),
  );
}

beforeAll(async () => {
  const url = await reasoningModel();
  dp = await startDataplane({
    providers: [
      {
        name: 'oa',
        type: 'openai',
        baseUrl: `${url}/v1`,
        credentials: { apiKey: { env: 'SLUICE_TEST_KEY' } },
      },
      {
        name: 'az',
        type: 'azure-openai',
        baseUrl: url,
        credentials: { apiKey: { env: 'SLUICE_TEST_KEY' } },
      },
    ],
    routes: [
      { name: 'oa', match: { models: ['gpt-5'] }, backends: [{ provider: 'oa' }] },
      { name: 'az', match: { models: ['o4-mini'] }, backends: [{ provider: 'az' }] },
    ],
  });
});

afterAll(async () => {
  await dp?.stop();
  await new Promise((r) => upstream?.close(r));
});

describe.each(['gpt-5', 'o4-mini'])('reasoning model %s', (model) => {
  it('is reachable from the anthropic SDK (/v1/messages always sends max_tokens)', async () => {
    const client = new Anthropic({ baseURL: dp.url, apiKey: 'unused', maxRetries: 0 });
    const msg = await client.messages.create({
      model,
      max_tokens: 1024,
      messages: [{ role: 'user', content: 'Think.' }],
    });
    expect(msg.content[0]).toMatchObject({ type: 'text', text: 'Thought hard.' });
    expect(seen.at(-1)).toMatchObject({ max_completion_tokens: 1024 });
    expect(seen.at(-1)).not.toHaveProperty('max_tokens');
  });

  it('is reachable from a chat client that sends max_tokens', async () => {
    const client = new OpenAI({ baseURL: dp.baseURL, apiKey: 'unused', maxRetries: 0 });
    const r = await client.chat.completions.create({
      model,
      max_tokens: 200,
      messages: [{ role: 'user', content: 'Think.' }],
    });
    expect(r.choices[0]?.message.content).toBe('Thought hard.');
    expect(seen.at(-1)).toMatchObject({ max_completion_tokens: 200 });
    expect(seen.at(-1)).not.toHaveProperty('max_tokens');
  });
});
