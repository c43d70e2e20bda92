// OpenAI clients often stop at a newline (`stop: ["\n"]`); Anthropic refuses whitespace-only stop
// sequences, so Sluice used to leave them out, and the model went on past the newline: the client got
// several lines where it asked for one. Sluice now enforces such sequences itself, on whole answers and
// streams (a sequence split across deltas included), ends the stream there as OpenAI would and cancels
// the upstream request. The official `openai` SDK against a real in-process dataplane and the fake
// Anthropic API, which refuses whitespace-only stop sequences as Anthropic does.
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type FakeAnthropic, startFakeAnthropic } from '../fakes/anthropic.ts';
import { type InProcessDataplane, startDataplane } from '../helpers/dataplane.ts';
import { UPSTREAM_KEY } from '../helpers/secrets.ts';

let fake: FakeAnthropic;
let dp: InProcessDataplane;
let client: OpenAI;

beforeAll(async () => {
  fake = await startFakeAnthropic({ apiKey: UPSTREAM_KEY });
  dp = await startDataplane({
    providers: [
      {
        name: 'claude',
        type: 'anthropic',
        baseUrl: fake.url,
        credentials: { apiKey: { env: 'SLUICE_TEST_KEY' } },
        models: [{ name: 'claude-sonnet-4-5', maxOutputTokens: 2000 }],
      },
    ],
    routes: [
      {
        name: 'claude',
        match: { models: ['claude-*'] },
        backends: [{ provider: 'claude' }],
        retry: { attempts: 0 },
      },
    ],
  });
  client = new OpenAI({ baseURL: dp.baseURL, apiKey: 'unused-client-key', maxRetries: 0 });
});

afterAll(async () => {
  await dp?.stop();
  await fake?.close();
});

beforeEach(() => fake.setScript(() => ({})));

const text = (t: string) => [{ type: 'text' as const, text: t }];
const ask = { model: 'claude-sonnet-4-5', messages: [{ role: 'user' as const, content: 'one line please' }] };

async function streamed(stop: string[], includeUsage = false) {
  const s = await client.chat.completions.create({
    ...ask,
    stop,
    stream: true,
    ...(includeUsage ? { stream_options: { include_usage: true } } : {}),
  });
  let content = '';
  let finish: string | null = null;
  let usage: OpenAI.CompletionUsage | undefined;
  for await (const c of s) {
    content += c.choices[0]?.delta?.content ?? '';
    finish = c.choices[0]?.finish_reason ?? finish;
    if (c.usage) usage = c.usage;
  }
  return { content, finish, usage };
}

describe('whitespace-only stop sequences, enforced by Sluice for Anthropic', () => {
  it('the fake refuses a whitespace-only stop sequence, as Anthropic does', async () => {
    const res = await fetch(`${fake.url}/v1/messages`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-api-key': UPSTREAM_KEY,
        'anthropic-version': '2023-06-01',
      },
      body: JSON.stringify({ ...ask, max_tokens: 10, stop_sequences: ['\n'] }),
    });
    expect(res.status).toBe(400);
  });

  it('cuts a whole answer at the first newline; the other sequences go to Anthropic', async () => {
    fake.setScript(() => ({ content: text('first line\nsecond line\nthird') }));
    const r = await client.chat.completions.create({ ...ask, stop: ['\n', 'END'] });
    expect(r.choices[0]?.message.content).toBe('first line');
    expect(r.choices[0]?.finish_reason).toBe('stop');
    const sent = fake.requests.at(-1);
    expect(sent?.rejected).toBeUndefined();
    expect(sent?.body?.stop_sequences).toEqual(['END']);
  });

  it('leaves an answer without the sequence as it is', async () => {
    fake.setScript(() => ({ content: text('all on one line') }));
    const r = await client.chat.completions.create({ ...ask, stop: ['\n'] });
    expect(r.choices[0]?.message.content).toBe('all on one line');
    const sent = fake.requests.at(-1);
    expect(sent?.body?.stop_sequences).toBeUndefined();
  });

  it('ends a stream at the newline, with usage, and cancels the upstream request', async () => {
    // a long answer, slowly: without the cancel the fake would still be writing for seconds
    fake.setScript(() => ({
      content: text(`first line\n${'more '.repeat(400)}`),
      textChunk: 3,
      chunkDelayMs: 2,
    }));
    const r = await streamed(['\n'], true);
    expect(r.content).toBe('first line');
    expect(r.finish).toBe('stop');
    expect(r.usage?.prompt_tokens).toBeGreaterThan(0);
    expect(r.usage?.completion_tokens).toBeGreaterThan(0);
    const sent = fake.requests.at(-1);
    for (let i = 0; i < 100 && !sent?.cancelled; i++) await new Promise((r) => setTimeout(r, 10));
    expect(sent?.cancelled).toBe(true);
  });

  it('finds a sequence split across deltas, and releases a held start that was not one', async () => {
    fake.setScript(() => ({ content: text('para one\n\npara two'), textChunk: 3 }));
    expect((await streamed(['\n\n'])).content).toBe('para one');
    fake.setScript(() => ({ content: text('a\n b\n\n'), textChunk: 2 }));
    const r = await streamed(['\n\n']);
    expect(r.content).toBe('a\n b');
    expect(r.finish).toBe('stop');
    // no sequence at all: every held newline reaches the client before the end
    fake.setScript(() => ({ content: text('x\ny\n'), textChunk: 1 }));
    const whole = await streamed(['\n\n']);
    expect(whole.content).toBe('x\ny\n');
    expect(whole.finish).toBe('stop');
  });

  it('keeps a tool call made before the sequence, whole and streamed alike', async () => {
    // Claude may call a tool and then write text: the call was complete before the newline came, so
    // it stays, as in the stream (the whole answer used to drop it); the text stops at the newline
    fake.setScript(() => ({
      content: [
        { type: 'tool_use', id: 'toolu_first', name: 'lookup', input: { q: 'x' } },
        { type: 'text', text: 'looked\nup' },
      ],
      stopReason: 'tool_use',
      textChunk: 2,
    }));
    const tools = [
      {
        type: 'function' as const,
        function: { name: 'lookup', parameters: { type: 'object', properties: { q: { type: 'string' } } } },
      },
    ];
    const whole = await client.chat.completions.create({ ...ask, stop: ['\n'], tools });
    const stream = client.chat.completions.stream({ ...ask, stop: ['\n'], tools });
    const streamed = await stream.finalChatCompletion();
    for (const choice of [whole.choices[0], streamed.choices[0]]) {
      expect(choice?.message.content).toBe('looked');
      expect(
        choice?.message.tool_calls?.map((c) => [c.id, c.type === 'function' && c.function.arguments]),
      ).toEqual([['toolu_first', '{"q":"x"}']]);
      expect(choice?.finish_reason).toBe('stop');
    }
  });

  it('drops a tool call the model would only have made after the sequence', async () => {
    fake.setScript(() => ({
      content: [
        { type: 'text', text: 'one\ntwo' },
        { type: 'tool_use', id: 'toolu_late', name: 'lookup', input: { q: 'y' } },
      ],
      stopReason: 'tool_use',
    }));
    const r = await client.chat.completions.create({ ...ask, stop: ['\n'] });
    expect(r.choices[0]?.message.content).toBe('one');
    expect(r.choices[0]?.message.tool_calls).toBeUndefined();
  });

  it("announces the choice's role when the sequence comes before any text (the SDK's stream helper needs it)", async () => {
    fake.setScript(() => ({ content: text('\nnothing before the newline'), textChunk: 4 }));
    const final = await client.chat.completions
      .stream({ ...ask, stop: ['\n'], stream: true })
      .finalChatCompletion();
    expect(final.choices[0]?.message.role).toBe('assistant');
    expect(final.choices[0]?.message.content ?? '').toBe('');
    expect(final.choices[0]?.finish_reason).toBe('stop');
  });

  it('refuses more than 4 whitespace-only sequences in the client shape', async () => {
    const err = await client.chat.completions
      .create({ ...ask, stop: ['\n', '\n\n', ' ', '\t', '\r\n'] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('stop');
  });
});
