// OpenAI chat streams passed through: a server that puts `"error": null` on every chunk (some
// OpenAI-compatible servers do) streams normally; a chunk with a real error fails the stream.
import { describe, expect, it } from 'vitest';
import { resolvedProvider, translateContext } from '../../../../test/helpers/provider_context.ts';
import { GatewayError } from '../../errors.ts';
import { findTranslator } from '../registry.ts';
import type { Translator } from '../types.ts';

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
