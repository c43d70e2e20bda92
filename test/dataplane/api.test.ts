// The OpenAI-compatible surface through a real dataplane with the official `openai` SDK as client:
// chat (whole and streamed), completions, embeddings, /v1/models, request ids, and credentials that
// never leak into responses.
import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeOpenAI, startFakeOpenAI } from '../fakes/openai.ts';
import { type InProcessDataplane, openaiProvider, startDataplane } from '../helpers/dataplane.ts';

const SECRET = process.env.SLUICE_TEST_KEY as string;
let fake: FakeOpenAI;
let dp: InProcessDataplane;
let client: OpenAI;

beforeAll(async () => {
  fake = await startFakeOpenAI({ name: 'up', apiKey: SECRET });
  dp = await startDataplane({
    providers: [
      openaiProvider('up', fake.url, {
        models: [{ name: 'gpt-4o-mini', pricing: { inputPerMTok: 0.15, outputPerMTok: 0.6 } }],
      }),
      { name: 'mock', type: 'mock', mock: { outputTokens: 5 } },
    ],
    routes: [
      { name: 'alias', match: { models: ['fast'] }, backends: [{ provider: 'up', model: 'gpt-4o-mini' }] },
      {
        name: 'openai',
        match: { models: ['gpt-4o*', 'text-embedding-3-small'] },
        backends: [{ provider: 'up' }],
      },
      { name: 'chat-path', match: { paths: ['/api/chat'] }, backends: [{ provider: 'mock' }] },
    ],
  });
  client = new OpenAI({ baseURL: dp.baseURL, apiKey: 'client-key-unused', maxRetries: 0 });
});

afterAll(async () => {
  await dp?.stop();
  await fake?.close();
});

describe('OpenAI API through the gateway', () => {
  it('answers a chat completion with the upstream content and usage', async () => {
    const res = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(res.choices[0]?.message.content).toBe('[up] from the fake upstream server with tokens');
    expect(res.choices[0]?.finish_reason).toBe('stop');
    expect(res.usage?.completion_tokens).toBe(8);
    const sent = fake.requests.at(-1);
    expect(sent?.headers.authorization).toBe(`Bearer ${SECRET}`);
    expect(sent?.body?.model).toBe('gpt-4o-mini');
  });

  it('renames the model for an alias route', async () => {
    await client.chat.completions.create({ model: 'fast', messages: [{ role: 'user', content: 'hi' }] });
    expect(fake.requests.at(-1)?.body?.model).toBe('gpt-4o-mini');
  });

  it('streams chunks in order, ending with finish_reason and usage when asked', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let finish: string | null | undefined;
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe('[up] from the fake upstream server with tokens');
    expect(finish).toBe('stop');
    expect(usage?.completion_tokens).toBe(8);
  });

  it('asks upstream for stream usage but hides the usage chunk from clients that did not ask', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(fake.requests.at(-1)?.body?.stream_options).toEqual({ include_usage: true });
    expect(chunks.every((c) => c.choices.length === 1 && !c.usage)).toBe(true);
  });

  it('serves legacy completions and embeddings', async () => {
    const c = await client.completions.create({ model: 'gpt-4o-mini', prompt: 'Say hi' });
    expect(c.choices[0]?.text).toContain('[up]');
    const e = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['a', 'b'] });
    expect(e.data).toHaveLength(2);
    expect(fake.requests.at(-1)?.path).toBe('/v1/embeddings');
  });

  it('takes token-array prompts for legacy completions, as OpenAI does', async () => {
    // "854 this is a test" and "Hello world" in cl100k_base
    const one = [25515, 420, 374, 264, 1296];
    const batch = [one, [9906, 1917]];
    for (const prompt of [one, batch]) {
      const c = await client.completions.create({ model: 'gpt-4o-mini', prompt });
      expect(c.choices[0]?.text).toContain('[up]');
      expect(fake.requests.at(-1)?.body?.prompt).toEqual(prompt);
    }
    for (const prompt of [[1.5], [[]], [-1], [['a']]]) {
      const err = await client.completions
        .create({ model: 'gpt-4o-mini', prompt: prompt as number[] })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      expect(err).toMatchObject({ param: 'prompt' });
    }
  });

  it('names the API a client called when Sluice does not serve it (audio, images) in a 404', async () => {
    const audio = await client.audio.transcriptions
      .create({ model: 'whisper-1', file: await toFile(Buffer.from('RIFF....WAVE'), 'a.wav') })
      .catch((e: unknown) => e);
    expect(audio).toBeInstanceOf(OpenAI.NotFoundError);
    expect((audio as Error).message).toContain(
      'audio (speech, transcriptions, translations) is not supported',
    );
    const image = await client.images.generate({ model: 'dall-e-3', prompt: 'x' }).catch((e: unknown) => e);
    expect(image).toBeInstanceOf(OpenAI.NotFoundError);
    expect((image as Error).message).toContain('image generation and editing is not supported');
  });

  it('lists the models routes serve', async () => {
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    expect(ids).toEqual(expect.arrayContaining(['fast', 'gpt-4o-mini']));
  });

  it('serves a route matched by path prefix, such as /api/chat', async () => {
    const res = await fetch(`${dp.url}/api/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'anything', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { choices: Array<{ message: { content: string } }> };
    expect(body.choices[0]?.message.content).toBe('Sluice routes every request to');
  });

  it('keeps idle connections longer than load balancers do (65 s)', async () => {
    const res = await fetch(`${dp.url}/healthz`);
    expect(res.headers.get('keep-alive')).toBe('timeout=65');
  });

  it('always answers its own x-request-id, echoing a valid client id as x-client-request-id', async () => {
    const given = await fetch(`${dp.url}/v1/models`, { headers: { 'x-request-id': 'trace-abc.123' } });
    expect(given.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(given.headers.get('x-client-request-id')).toBe('trace-abc.123');
    // OpenAI's own header for a client id is read first
    const openai = await fetch(`${dp.url}/v1/models`, {
      headers: { 'x-client-request-id': 'mine-1', 'x-request-id': 'other' },
    });
    expect(openai.headers.get('x-client-request-id')).toBe('mine-1');
    const injected = await fetch(`${dp.url}/v1/models`, {
      headers: { 'x-request-id': 'bad id\twith spaces' },
    });
    expect(injected.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(injected.headers.get('x-client-request-id')).toBeNull();
  });

  it('never puts the upstream credential in a response, even when the upstream rejects it', async () => {
    fake.setFault(() => ({ status: 401 }));
    const res = await fetch(`${dp.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    });
    fake.setFault(() => ({}));
    const text = await res.text();
    expect(res.status).toBe(401);
    expect(text).not.toContain(SECRET);
    expect(res.headers.get('x-sluice-error-code')).toBe('SLUICE_ERR_UPSTREAM_REJECTED');
    // the provider's own code and type are kept for the client
    expect(JSON.parse(text).error).toMatchObject({
      type: 'invalid_request_error',
      code: 'invalid_request_error',
    });
  });
});
