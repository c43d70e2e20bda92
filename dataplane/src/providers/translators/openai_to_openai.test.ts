// OpenAI chat streams passed through: a server that puts `"error": null` on every chunk (some
// OpenAI-compatible servers do) streams normally; a chunk with a real error fails the stream.
// Whole answers are read from a latin1 decoding of the body: the same validity and values as UTF-8's.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { resolvedProvider, translateContext } from '../../../../test/helpers/provider_context.ts';
import { GatewayError } from '../../errors.ts';
import { findTranslator } from '../registry.ts';
import type { Translator, UpstreamRequest } from '../types.ts';

const t = findTranslator('openai-chat', 'openai') as Translator;
const ctx = () =>
  translateContext(resolvedProvider('vllm', { baseUrl: 'http://127.0.0.1:9/v1' }), {
    stream: true,
    wantsUsage: true,
  });
const chunk = (delta: object, extra: object = {}) =>
  `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: null }], ...extra })}\n\n`;

describe('openai -> openai stream', () => {
  it('streams chunks that carry "error": null', () => {
    const st = t.createStream(ctx());
    const events = [
      ...st.push(Buffer.from(chunk({ role: 'assistant', content: 'Hel' }, { error: null }))),
      ...st.push(Buffer.from(chunk({ content: 'lo' }, { error: null }))),
      ...st.push(Buffer.from('data: [DONE]\n\n')),
      ...st.end(),
    ];
    expect(events.map((e) => e.text ?? '').join('')).toBe('Hello');
    expect(events.some((e) => e.done)).toBe(true);
  });

  it('fails the stream on a chunk with a real error', () => {
    const st = t.createStream(ctx());
    expect(() =>
      st.push(Buffer.from(`data: ${JSON.stringify({ error: { message: 'overloaded' } })}\n\n`)),
    ).toThrow(GatewayError);
  });
});

describe('openai -> openai whole answer', () => {
  const whole = () =>
    translateContext(resolvedProvider('vllm', { baseUrl: 'http://127.0.0.1:9/v1' }), { stream: false });

  it('reads usage and the finish reason from a body with non-ASCII text, and passes the bytes on', () => {
    const body = Buffer.from(
      JSON.stringify({
        id: 'c',
        object: 'chat.completion',
        choices: [
          { index: 0, message: { role: 'assistant', content: 'héllo 世界 ✓ 😀' }, finish_reason: 'stöp' },
        ],
        usage: { prompt_tokens: 31, completion_tokens: 20, total_tokens: 51 },
      }),
    );
    const r = t.parseResponse(body, whole()) as { body: Buffer; usage?: object; finishReason?: string };
    expect(r.body).toBe(body);
    expect(r.usage).toMatchObject({ inputTokens: 31, outputTokens: 20 });
    expect(r.finishReason).toBe('stöp');
  });

  it('refuses a body that is not JSON with a documented upstream error', () => {
    expect(() => t.parseResponse(Buffer.from('{"choices": [ '), whole())).toThrow(GatewayError);
    expect(() => t.parseResponse(Buffer.from([0xef, 0xbb, 0xbf, 0x7b, 0x7d]), whole())).toThrow(GatewayError);
  });

  it('a latin1 decoding parses exactly when the UTF-8 one does, to the same ASCII values (property)', () => {
    const parses = (s: string) => {
      try {
        return { ok: true, v: JSON.parse(s) as unknown };
      } catch {
        return { ok: false, v: undefined };
      }
    };
    // JSON texts with any unicode, and the same texts with random bytes spliced in (invalid UTF-8,
    // bytes >= 0x80 outside strings, control characters)
    const bytes = fc.oneof(
      fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v))),
      fc.tuple(fc.jsonValue(), fc.uint8Array({ maxLength: 4 }), fc.nat()).map(([v, extra, at]) => {
        const b = Buffer.from(JSON.stringify(v));
        const i = at % (b.length + 1);
        return Buffer.concat([b.subarray(0, i), Buffer.from(extra), b.subarray(i)]);
      }),
    );
    fc.assert(
      fc.property(bytes, (b) => {
        const a = parses(b.toString('latin1'));
        const u = parses(b.toString('utf8'));
        expect(a.ok).toBe(u.ok);
        // the structure (keys, numbers, booleans, ASCII strings) is the same
        if (a.ok && !/[\x80-\xff]/.test(b.toString('latin1'))) expect(a.v).toEqual(u.v);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('openai -> openai request: tool call ids', () => {
  const long = `call_${'x'.repeat(60)}`;
  const body = () => ({
    model: 'm',
    messages: [
      { role: 'user', content: 'go' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: long, type: 'function', function: { name: 'f', arguments: '{}' } }],
      },
      { role: 'tool', tool_call_id: long, content: 'ok' },
    ],
  });
  const sent = (type: string, b: Record<string, unknown>) => {
    const c = translateContext(resolvedProvider(type, { baseUrl: 'http://127.0.0.1:9/v1' }), {
      stream: false,
    });
    const req = t.buildRequest(b, c) as UpstreamRequest;
    return JSON.parse(req.body as string) as { messages: Array<Record<string, unknown>> };
  };

  it('are cut to a digest for OpenAI and Azure (40 characters at most), alike on call and result', () => {
    for (const type of ['openai', 'azure-openai']) {
      const m = sent(type, body()).messages;
      const id = (m[1]?.tool_calls as Array<{ id: string }> | undefined)?.[0]?.id as string;
      expect(id).toHaveLength(40);
      expect(m[2]?.tool_call_id).toBe(id);
    }
  });

  it('pass as they are to servers that take them (vLLM), and short ids everywhere', () => {
    expect((sent('vllm', body()).messages[2] as { tool_call_id: string }).tool_call_id).toBe(long);
    const short = body();
    short.messages[2] = { role: 'tool', tool_call_id: 'call_1', content: 'ok' };
    (short.messages[1] as { tool_calls: Array<{ id: string }> }).tool_calls[0] = {
      ...(short.messages[1] as { tool_calls: Array<{ id: string }> }).tool_calls[0],
      id: 'call_1',
    } as { id: string };
    expect(sent('openai', short).messages).toEqual(short.messages);
  });
});
