// Timeouts (first byte, idle between chunks, total), malformed and truncated upstream answers, an
// oversized response, and client aborts propagating to the upstream.
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type FakeOpenAI, startFakeOpenAI } from '../fakes/openai.ts';
import { type InProcessDataplane, openaiProvider, startDataplane } from '../helpers/dataplane.ts';

let up: FakeOpenAI;
let dp: InProcessDataplane | undefined;

beforeAll(async () => {
  up = await startFakeOpenAI({ name: 'up' });
});
afterAll(() => up.close());
afterEach(async () => {
  await dp?.stop();
  dp = undefined;
  up.setFault(() => ({}));
  up.requests.length = 0;
});

async function gateway(timeouts: Record<string, number>, server: Record<string, unknown> = {}) {
  dp = await startDataplane({
    server,
    providers: [openaiProvider('up', up.url, { timeouts })],
    routes: [{ name: 'r', backends: [{ provider: 'up' }], retry: { attempts: 0 } }],
  });
  return new OpenAI({ baseURL: dp.baseURL, apiKey: 'x', maxRetries: 0 });
}

const messages = [{ role: 'user' as const, content: 'hi' }];

async function drain(
  stream: AsyncIterable<OpenAI.ChatCompletionChunk>,
): Promise<{ text: string; err: unknown }> {
  let text = '';
  try {
    for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
    return { text, err: undefined };
  } catch (err) {
    return { text, err };
  }
}

describe('timeouts and broken upstream answers', () => {
  it('answers 504 naming the first-byte timeout', async () => {
    up.setFault(() => ({ delayMs: 1500 }));
    const client = await gateway({ firstByteMs: 200 });
    const err = (await client.chat.completions
      .create({ model: 'm', messages })
      .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err.status).toBe(504);
    expect(err.message).toMatch(/no response \(first byte\) within 200 ms/);
  });

  it('waits for a first token up to the first-byte timeout, not the idle one (headers came at once)', async () => {
    // a reasoning model: the stream's headers at once, its first event after thinking for 600 ms
    up.setFault(() => ({ firstChunkDelayMs: 600 }));
    const client = await gateway({ firstByteMs: 2000, idleMs: 200 });
    const { text, err } = await drain(
      await client.chat.completions.create({ model: 'm', messages, stream: true }),
    );
    expect(err).toBeUndefined();
    expect(text.startsWith('[up]')).toBe(true);
    // past the first-byte timeout: nothing reached the client yet, so it is a plain 504
    await dp?.stop();
    const strict = await gateway({ firstByteMs: 250, idleMs: 5000 });
    const e = (await strict.chat.completions
      .create({ model: 'm', messages, stream: true })
      .catch((x: unknown) => x)) as InstanceType<typeof OpenAI.APIError>;
    expect(e.status).toBe(504);
    expect(e.message).toMatch(/no response \(first byte\) within 250 ms/);
  });

  it('serves with timeouts longer than a Node timer can hold (an operator meaning "no limit")', async () => {
    // Node clamps a timer over 2^31-1 ms (~24.8 days) to 1 ms: a 1000-hour total fired at once
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      up.setFault(() => ({ chunkDelayMs: 5 }));
      const hours1000 = 1000 * 3600 * 1000;
      const client = await gateway({ firstByteMs: hours1000, idleMs: hours1000, totalMs: hours1000 });
      const whole = await client.chat.completions.create({ model: 'm', messages });
      expect(whole.choices[0]?.message.content).toContain('[up]');
      const { text, err } = await drain(
        await client.chat.completions.create({ model: 'm', messages, stream: true }),
      );
      expect(err).toBeUndefined();
      expect(text.startsWith('[up]')).toBe(true);
      expect(warnings).not.toContain('TimeoutOverflowWarning');
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('ends a stalled stream with an error event naming the idle timeout', async () => {
    up.setFault(() => ({ stallAfterChunks: 2, chunkDelayMs: 10 }));
    const client = await gateway({ idleMs: 300 });
    const stream = await client.chat.completions.create({ model: 'm', messages, stream: true });
    const { text, err } = await drain(stream);
    expect(text).toBe('[up] from');
    expect(String((err as Error)?.message)).toMatch(/idle for more than 300 ms/);
  });

  it('enforces the total timeout on a slow stream', async () => {
    up.setFault(() => ({ tokens: 50, chunkDelayMs: 40 }));
    const client = await gateway({ totalMs: 400 });
    const { text, err } = await drain(
      await client.chat.completions.create({ model: 'm', messages, stream: true }),
    );
    expect(text.length).toBeGreaterThan(0);
    expect(String((err as Error)?.message)).toMatch(/total timeout of 400 ms/);
  });

  it('turns a malformed stream frame into an error event', async () => {
    up.setFault(() => ({ malformedAfterChunks: 2, chunkDelayMs: 5 }));
    const client = await gateway({});
    const { err } = await drain(await client.chat.completions.create({ model: 'm', messages, stream: true }));
    expect(String((err as Error)?.message)).toMatch(/malformed stream event/);
  });

  it('does not pass off a stream that ended without finishing as a success', async () => {
    up.setFault(() => ({ truncateAfterChunks: 3, chunkDelayMs: 5 }));
    const client = await gateway({});
    const { err } = await drain(await client.chat.completions.create({ model: 'm', messages, stream: true }));
    expect(String((err as Error)?.message)).toMatch(/ended the stream before the answer was complete/);
  });

  it('answers 502 for truncated JSON and for a response over the size cap', async () => {
    up.setFault(() => ({ truncatedJson: true }));
    const client = await gateway({}, { maxResponseBytes: 4096 });
    const e1 = (await client.chat.completions
      .create({ model: 'm', messages })
      .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(e1.status).toBe(502);
    expect(e1.message).toMatch(/not valid JSON/);
    up.setFault(() => ({ bodyBytes: 10_000 }));
    const e2 = (await client.chat.completions
      .create({ model: 'm', messages })
      .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(e2.status).toBe(502);
    expect((e2.error as { code: string }).code).toBe('SLUICE_ERR_RESPONSE_TOO_LARGE');
  });

  it('aborts the upstream request when the client goes away mid-stream', async () => {
    up.setFault(() => ({ tokens: 200, chunkDelayMs: 20 }));
    const client = await gateway({});
    const controller = new AbortController();
    const stream = await client.chat.completions.create(
      { model: 'm', messages, stream: true },
      { signal: controller.signal },
    );
    let chunks = 0;
    await (async () => {
      for await (const _ of stream) {
        if (++chunks === 3) controller.abort();
      }
    })().catch(() => undefined);
    const deadline = Date.now() + 3000;
    while (!up.requests[0]?.aborted && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(up.requests[0]?.aborted).toBe(true);
  });
});
