// No bypasses of token accounting, and output caps without gaps (issue 12), through a real dataplane,
// the official openai SDK and a fake upstream that records what it is sent:
//   - `n` multiplies the output reserved;
//   - tool definitions, tool-call arguments, images and embeddings token arrays are counted and seen
//     by content filters;
//   - a whole answer from an upstream that ignores max_tokens is cut to the grant;
//   - a capped stream sends a usage chunk only when the client asked for one.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encode } from '../../dataplane/src/tokens/bpe.ts';
import { countPromptTokens, countTokens } from '../../dataplane/src/tokens/counter.ts';
import { type FakeOpenAI, startFakeOpenAI } from '../fakes/openai.ts';
import { type InProcessDataplane, openaiProvider, startDataplane } from '../helpers/dataplane.ts';
import { bodyMessage, sdkError, sha256 } from './fixtures.ts';

let fake: FakeOpenAI;
let dp: InProcessDataplane;
const KEY_PATTERN = '-----BEGIN [A-Z ]*PRIVATE KEY-----';
const tenants = ['n', 'tools', 'filter', 'image', 'embed', 'clamp', 'window', 'stream'];

beforeAll(async () => {
  fake = await startFakeOpenAI({ name: 'fake' });
  dp = await startDataplane({
    providers: [
      openaiProvider('fake', fake.url, {
        models: [{ name: 'gpt-4o-mini' }, { name: 'text-embedding-3-small' }],
      }),
    ],
    routes: [{ name: 'main', backends: [{ provider: 'fake' }] }],
    namespaces: tenants.map((t) => ({
      name: t,
      match: { apiKeys: [{ name: t, sha256: sha256(`sk-${t}`) }] },
      policies: [t],
    })),
    policies: [
      { name: 'n', tokens: [{ limit: 2_000, window: 'day', kind: 'total' }] },
      { name: 'tools', tokens: [{ limit: 2_000, window: 'day', kind: 'total' }] },
      { name: 'filter', contentFilters: [{ name: 'private-key', pattern: KEY_PATTERN }] },
      { name: 'image', tokens: [{ limit: 500, window: 'day', kind: 'total' }] },
      {
        name: 'embed',
        tokens: [{ limit: 100, window: 'day', kind: 'input' }],
        contentFilters: [{ name: 'private-key', pattern: KEY_PATTERN }],
      },
      { name: 'clamp', maxOutputTokens: { limit: 5, mode: 'clamp' } },
      { name: 'window', tokens: [{ limit: 60, window: 'day', kind: 'output' }] },
      { name: 'stream', maxOutputTokens: { limit: 5, mode: 'clamp' } },
    ],
  });
});
afterAll(async () => {
  await dp?.stop();
  await fake?.close();
});

const sdk = (tenant: string) => new OpenAI({ baseURL: dp.baseURL, apiKey: `sk-${tenant}`, maxRetries: 0 });
const user = (content: string) => [{ role: 'user' as const, content }];
const lastSent = () => fake.requests.at(-1)?.body as Record<string, unknown>;
/** the output limit the upstream was sent (the openai preset names it max_completion_tokens) */
const sentMax = () => lastSent().max_completion_tokens ?? lastSent().max_tokens;

describe('no bypasses of token accounting', () => {
  it('`n` multiplies the output reserved: each choice gets the grant, never n times it', async () => {
    const { response } = await sdk('n')
      .chat.completions.create({ model: 'gpt-4o-mini', messages: user('hi'), n: 128, max_tokens: 20 })
      .withResponse();
    // 2,000 - 7 prompt tokens left for 128 choices: 15 tokens each, not 20 (128 x 20 = 2,560)
    const prompt = countPromptTokens('hi', 1, 'o200k_base');
    expect(sentMax()).toBe(15);
    expect(response.headers.get('x-ratelimit-remaining-tokens')).toBe(String(2_000 - prompt - 128 * 15));
  });

  it('counts tool definitions: 9,000 tokens in a description do not fit a 2,000-token window', async () => {
    const description = 'weather '.repeat(9_000);
    const err = await sdkError(
      sdk('tools').chat.completions.create({
        model: 'gpt-4o-mini',
        messages: user('hi'),
        max_tokens: 5,
        tools: [
          {
            type: 'function',
            function: { name: 'get_weather', description, parameters: { type: 'object' } },
          },
        ],
      }),
    );
    expect(err.status).toBe(429);
    expect(bodyMessage(err)).toMatch(/needs \d{4,} tokens/);
  });

  it('shows tool descriptions and tool-call arguments to content filters', async () => {
    const key = '-----BEGIN RSA PRIVATE KEY-----\nMIIEow...';
    const viaTool = await sdkError(
      sdk('filter').chat.completions.create({
        model: 'gpt-4o-mini',
        messages: user('hi'),
        tools: [
          { type: 'function', function: { name: 'f', description: key, parameters: { type: 'object' } } },
        ],
      }),
    );
    expect(viaTool.status).toBe(400);
    expect(bodyMessage(viaTool)).toContain("content filter 'private-key'");
    const viaArguments = await sdkError(
      sdk('filter').chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [
          { role: 'user', content: 'store this' },
          {
            role: 'assistant',
            content: null,
            tool_calls: [
              { id: 'c1', type: 'function', function: { name: 'save', arguments: JSON.stringify({ key }) } },
            ],
          },
          { role: 'tool', tool_call_id: 'c1', content: 'ok' },
        ],
      }),
    );
    expect(viaArguments.status).toBe(400);
    const before = fake.requests.length;
    await sdk('filter').chat.completions.create({
      model: 'gpt-4o-mini',
      messages: user('a harmless question'),
    });
    expect(fake.requests.length).toBe(before + 1);
  });

  it('counts images (OpenAI: 765 tokens at high detail) against the window', async () => {
    const image = { type: 'image_url' as const, image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } };
    const err = await sdkError(
      sdk('image').chat.completions.create({
        model: 'gpt-4o-mini',
        max_tokens: 5,
        messages: [{ role: 'user', content: [{ type: 'text', text: 'what is this?' }, image] }],
      }),
    );
    expect(err.status).toBe(429);
    const low = {
      type: 'image_url' as const,
      image_url: { url: image.image_url.url, detail: 'low' as const },
    };
    await sdk('image').chat.completions.create({
      model: 'gpt-4o-mini',
      max_tokens: 5,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'what is this?' }, low] }],
    });
  });

  it('counts embeddings token arrays and shows their text to content filters', async () => {
    const ids = Array.from({ length: 500 }, (_, i) => 1_000 + i);
    const tooMany = await sdkError(
      sdk('embed').embeddings.create({ model: 'text-embedding-3-small', input: ids }),
    );
    expect(tooMany.status).toBe(429);
    const secret = encode('-----BEGIN PRIVATE KEY-----', 'cl100k_base');
    const filtered = await sdkError(
      sdk('embed').embeddings.create({ model: 'text-embedding-3-small', input: [secret] }),
    );
    expect(filtered.status).toBe(400);
    expect(bodyMessage(filtered)).toContain("content filter 'private-key'");
  });
});

describe('output caps without gaps', () => {
  it('cuts a whole answer from an upstream that ignores max_tokens to the policy cap', async () => {
    fake.setFault(() => ({ tokens: 40, ignoreMaxTokens: true }));
    try {
      const r = await sdk('clamp').chat.completions.create({ model: 'gpt-4o-mini', messages: user('hi') });
      expect(sentMax()).toBe(5);
      expect(r.choices[0]?.finish_reason).toBe('length');
      expect(countTokens(r.choices[0]?.message.content ?? '', 'o200k_base')).toBe(5);
      expect(r.usage?.completion_tokens).toBe(5);
    } finally {
      fake.setFault(() => ({}));
    }
  });

  it('cuts it to the token window grant, and the window is charged what was delivered', async () => {
    fake.setFault(() => ({ tokens: 100, ignoreMaxTokens: true }));
    try {
      const r = await sdk('window').chat.completions.create({
        model: 'gpt-4o-mini',
        messages: user('hi'),
        max_tokens: 500,
      });
      expect(sentMax()).toBe(60);
      expect(r.choices[0]?.finish_reason).toBe('length');
      expect(r.usage?.completion_tokens).toBe(60);
      expect(countTokens(r.choices[0]?.message.content ?? '', 'o200k_base')).toBe(60);
      // exactly spent: the next request is refused
      const err = await sdkError(
        sdk('window').chat.completions.create({ model: 'gpt-4o-mini', messages: user('hi') }),
      );
      expect(err.status).toBe(429);
    } finally {
      fake.setFault(() => ({}));
    }
  });

  it('a capped stream sends no usage chunk unless asked: the usual client loop works', async () => {
    fake.setFault(() => ({ tokens: 40, ignoreMaxTokens: true }));
    try {
      const stream = await sdk('stream').chat.completions.create({
        model: 'gpt-4o-mini',
        messages: user('hi'),
        max_tokens: 30,
        stream: true,
      });
      let text = '';
      const finishes: string[] = [];
      for await (const chunk of stream) {
        // the loop most clients write: it throws on a chunk with no choices
        const choice = chunk.choices[0] as (typeof chunk.choices)[number];
        text += choice.delta.content ?? '';
        if (choice.finish_reason) finishes.push(choice.finish_reason);
        expect(chunk.usage ?? undefined).toBeUndefined();
      }
      expect(finishes).toEqual(['length']);
      expect(countTokens(text, 'o200k_base')).toBe(5);
      const asked = await sdk('stream').chat.completions.create({
        model: 'gpt-4o-mini',
        messages: user('hi'),
        stream: true,
        stream_options: { include_usage: true },
      });
      let usage: OpenAI.CompletionUsage | undefined;
      for await (const chunk of asked) if (chunk.usage) usage = chunk.usage;
      expect(usage?.completion_tokens).toBe(5);
    } finally {
      fake.setFault(() => ({}));
    }
  });
});
