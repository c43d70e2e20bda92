// Streaming caps, seed 004's headline feature: when a request's output cap or its namespace's token
// window runs out mid-stream, the stream ends cleanly (finish_reason "length" + usage, then [DONE];
// for /v1/messages: message_delta stop_reason "max_tokens" + usage, then message_stop), and the
// tokens the client saw are exactly what the window is charged.
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countTokens } from '../../dataplane/src/tokens/counter.ts';
import { type InProcessDataplane, startDataplane } from '../helpers/dataplane.ts';
import { client, hello, sdkError, sha256, tenantConfig } from './fixtures.ts';

let dp: InProcessDataplane;
const key = (n: string) => `sk-${n}`;
const tenant = (name: string, policies: string[]) => ({
  name,
  match: { apiKeys: [{ name, sha256: sha256(key(name)) }] },
  policies,
});

beforeAll(async () => {
  dp = await startDataplane(
    tenantConfig({
      mock: { outputTokens: 40, chunkTokens: 1, chunkDelayMs: 2 },
      namespaces: [
        tenant('window', ['tokens-30']),
        tenant('window-raw', ['tokens-30']),
        tenant('cap', ['out-5']),
        tenant('anthropic', ['tokens-30']),
        tenant('output-only', ['output-12']),
      ],
      policies: [
        { name: 'tokens-30', tokens: [{ limit: 30, window: 'day', kind: 'total' }] },
        { name: 'out-5', maxOutputTokens: { limit: 5, mode: 'clamp' } },
        { name: 'output-12', tokens: [{ limit: 12, window: 'day', kind: 'output' }] },
      ],
    }),
  );
});
afterAll(() => dp?.stop());

describe('openai SDK streams', () => {
  it('cuts the stream when the token window runs out: finish_reason "length" with usage', async () => {
    const stream = await client(dp.baseURL, key('window')).chat.completions.create({
      ...hello,
      max_tokens: 100,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    const finishes: Array<string | null | undefined> = [];
    let usage: { prompt_tokens: number; completion_tokens: number } | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.choices[0]?.finish_reason) finishes.push(chunk.choices[0].finish_reason);
      if (chunk.usage) usage = chunk.usage;
    }
    // 30 total - 7 prompt tokens = 23 output tokens granted, of the 40 the upstream would send.
    expect(finishes).toEqual(['length']);
    expect(usage).toMatchObject({ prompt_tokens: 7, completion_tokens: 23 });
    expect(countTokens(text, 'o200k_base')).toBe(23);
    // The window is exactly spent: the next request is refused.
    const err = await sdkError(client(dp.baseURL, key('window')).chat.completions.create(hello));
    expect(err.status).toBe(429);
    expect(err.param).toBe('tokens');
  });

  it('ends the wire format with the final chunk, then data: [DONE]', async () => {
    const res = await fetch(`${dp.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key('window-raw')}` },
      body: JSON.stringify({ ...hello, stream: true, max_tokens: 100 }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-ratelimit-remaining-tokens')).toBe('0');
    const body = await res.text();
    const frames = body.split('\n\n').filter(Boolean);
    expect(frames.at(-1)).toBe('data: [DONE]');
    const payloads = frames
      .slice(0, -1)
      .map((f) => JSON.parse(f.replace(/^data: /, '')) as Record<string, unknown>);
    const finals = payloads.filter((p) =>
      (p.choices as Array<{ finish_reason: string | null }>).some((c) => c.finish_reason !== null),
    );
    expect(finals).toHaveLength(1);
    const choices = (finals[0]?.choices ?? []) as Array<{ finish_reason: string }>;
    expect(choices[0]?.finish_reason).toBe('length');
  });

  it('caps output at the policy maximum for streams', async () => {
    const stream = await client(dp.baseURL, key('cap')).chat.completions.create({
      ...hello,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let finish: string | null | undefined;
    let usage: { completion_tokens: number } | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(finish).toBe('length');
    expect(usage?.completion_tokens).toBeLessThanOrEqual(5);
    expect(countTokens(text, 'o200k_base')).toBeLessThanOrEqual(5);
  });

  it('charges an output-only window with what was streamed, across requests', async () => {
    const sdk = client(dp.baseURL, key('output-only'));
    const run = async () => {
      const s = await sdk.chat.completions.create({ ...hello, stream: true, max_tokens: 8 });
      let t = '';
      for await (const c of s) t += c.choices[0]?.delta.content ?? '';
      return countTokens(t, 'o200k_base');
    };
    const first = await run();
    const second = await run();
    expect(first).toBe(8);
    expect(second).toBe(4);
    expect((await sdkError(sdk.chat.completions.create({ ...hello, stream: true }))).status).toBe(429);
  });

  it('counts truncations in /metrics', async () => {
    const text = await (await fetch(`${dp.adminUrl}/metrics`)).text();
    expect(text).toMatch(/sluice_stream_truncations_total\{namespace="window",reason="[a-z_]+"\} 1/);
  });
});

describe('@anthropic-ai/sdk on /v1/messages', () => {
  it('ends a capped stream with stop_reason "max_tokens", usage and message_stop', async () => {
    const anthropic = new Anthropic({ baseURL: dp.url, apiKey: key('anthropic'), maxRetries: 0 });
    const stream = await anthropic.messages.create({
      model: 'gpt-4o-mini',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'hello' }],
      stream: true,
    });
    const types: string[] = [];
    let text = '';
    let stop: string | null | undefined;
    let outputTokens: number | undefined;
    for await (const ev of stream) {
      types.push(ev.type);
      if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta') text += ev.delta.text;
      if (ev.type === 'message_delta') {
        stop = ev.delta.stop_reason;
        outputTokens = ev.usage.output_tokens;
      }
    }
    expect(types[0]).toBe('message_start');
    expect(types.slice(-3)).toEqual(['content_block_stop', 'message_delta', 'message_stop']);
    expect(stop).toBe('max_tokens');
    const seen = countTokens(text, 'o200k_base');
    expect(outputTokens).toBe(seen);
    expect(seen).toBeGreaterThan(0);
    expect(seen).toBeLessThan(40);
  });
});
