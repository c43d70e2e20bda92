// A chat conversation whose earlier turns another provider answered carries that provider's tool call
// ids, and OpenAI refuses any longer than 40 characters ("Invalid 'messages[1].tool_calls[0].id':
// string too long", code string_above_max_length: vercel/ai#5171, agno#5382). Gemini's ids carry the
// call's thought signature (wire/gemini), hundreds of characters, so a conversation that fell back
// from Gemini to OpenAI, or was routed on by model, failed as a whole. Sluice sends OpenAI and Azure a
// 40-character digest instead, the same on the call and on the result that answers it; the client's
// own ids are untouched (its next Gemini turn still carries the signature).
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeToolCallId } from '../../dataplane/src/wire/gemini/from_openai.ts';
import { type FakeOpenAI, startFakeOpenAI } from '../fakes/openai.ts';
import { type InProcessDataplane, openaiProvider, startDataplane } from '../helpers/dataplane.ts';
import { UPSTREAM_KEY } from '../helpers/secrets.ts';

let up: FakeOpenAI;
let dp: InProcessDataplane;
let client: OpenAI;

beforeAll(async () => {
  up = await startFakeOpenAI({ name: 'up', apiKey: UPSTREAM_KEY });
  dp = await startDataplane({
    providers: [openaiProvider('up', up.url)],
    routes: [{ name: 'up', match: { models: ['gpt-*'] }, backends: [{ provider: 'up' }] }],
  });
  client = new OpenAI({ baseURL: dp.baseURL, apiKey: 'client-key', maxRetries: 0 });
});

afterAll(async () => {
  await dp?.stop();
  await up?.close();
});

// what a Gemini turn gave the client: the call's id with its thought signature
const geminiId = encodeToolCallId('call_w1', Buffer.alloc(180, 7).toString('base64'));
const shortId = 'call_abc123';

function conversation(): OpenAI.ChatCompletionMessageParam[] {
  return [
    { role: 'user', content: 'weather in Paris and Rome?' },
    {
      role: 'assistant',
      content: null,
      tool_calls: [
        { id: geminiId, type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } },
        { id: shortId, type: 'function', function: { name: 'weather', arguments: '{"city":"Rome"}' } },
      ],
    },
    { role: 'tool', tool_call_id: geminiId, content: 'sunny' },
    { role: 'tool', tool_call_id: shortId, content: 'rain' },
  ];
}

describe('tool call ids another provider made, sent to OpenAI', () => {
  it('are digests of 40 characters, the same on the call and its result; short ids pass as they are', async () => {
    expect(geminiId.length).toBeGreaterThan(200);
    const messages = conversation();
    const r = await client.chat.completions.create({ model: 'gpt-4o-mini', messages });
    expect(r.choices[0]?.message.content).toBeTruthy();
    const sent = up.requests.at(-1)?.body?.messages as Array<Record<string, unknown>>;
    const calls = sent[1]?.tool_calls as Array<{ id: string }>;
    const digest = calls[0]?.id as string;
    expect(digest.length).toBe(40);
    expect(digest).not.toBe(geminiId);
    expect(sent[2]?.tool_call_id).toBe(digest);
    expect(calls[1]?.id).toBe(shortId);
    expect(sent[3]?.tool_call_id).toBe(shortId);
    // the client's conversation is its own: nothing it holds was rewritten
    expect(messages).toEqual(conversation());
  });

  it('the same id gets the same digest on every turn, streamed too', async () => {
    const first = up.requests.at(-1)?.body?.messages as Array<Record<string, unknown>>;
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: conversation(),
      stream: true,
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    expect(text).toBeTruthy();
    const again = up.requests.at(-1)?.body?.messages as Array<Record<string, unknown>>;
    expect(again[2]?.tool_call_id).toBe(first[2]?.tool_call_id);
  });
});
