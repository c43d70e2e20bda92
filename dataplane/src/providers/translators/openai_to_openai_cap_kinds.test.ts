// A passed-through OpenAI-compatible stream cut by a token cap: the cut chunk is written again with
// the allowed text in the fields it came in. It used to come back as `content` whatever it was, so a
// cap inside a reasoning model's reasoning_content (DeepSeek, vLLM, Qwen) showed the reasoning as the
// answer, and a cap inside a tool call's arguments showed raw JSON as text; a role the cut chunk
// announced was lost (the openai SDK's stream helper fails on a choice without one).
import { describe, expect, it } from 'vitest';
import { resolvedProvider, translateContext } from '../../../../test/helpers/provider_context.ts';
import { SseParser } from '../../wire/sse.ts';
import { findTranslator } from '../registry.ts';
import type { StreamEvent, Translator } from '../types.ts';

type Obj = Record<string, unknown>;

const translator = findTranslator('openai-chat', 'openai') as Translator;
const frame = (delta: Obj) =>
  `data: ${JSON.stringify({ id: 'c9', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: null }] })}\n\n`;

async function cutAt(delta: Obj, allowed: string | undefined) {
  const c = translateContext(resolvedProvider('deepseek', { name: 'ds' }), { model: 'm', stream: true });
  await translator.buildRequest({ model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true }, c);
  const st = translator.createStream(c);
  const cut = st.push(Buffer.from(frame(delta))).find((e) => e.text) as StreamEvent;
  expect(cut).toBeDefined();
  const ending =
    (allowed === undefined ? '' : st.textChunk(allowed, cut)) +
    st.finish('length', { inputTokens: 3, outputTokens: 1 }, cut);
  return new SseParser()
    .push(ending)
    .filter((f) => f.data !== '[DONE]')
    .map(
      (f) =>
        (JSON.parse(f.data) as { choices: Array<{ delta: Obj; finish_reason: string | null }> }).choices[0],
    );
}

describe('a cap inside a passed-through chunk keeps each piece in its field', () => {
  it('reasoning stays reasoning_content, with the role the chunk announced', async () => {
    const [trimmed, last] = await cutAt(
      { role: 'assistant', content: null, reasoning_content: 'Let me think' },
      'Let me',
    );
    expect(trimmed?.delta).toEqual({ role: 'assistant', reasoning_content: 'Let me' });
    expect(last).toMatchObject({ delta: {}, finish_reason: 'length' });
  });

  it('tool arguments stay a tool call, with its id and name', async () => {
    const call = {
      index: 0,
      id: 'call_1',
      type: 'function',
      function: { name: 'f', arguments: '{"city":"Paris"}' },
    };
    const [trimmed] = await cutAt({ tool_calls: [call] }, '{"city"');
    expect(trimmed?.delta).toEqual({
      tool_calls: [{ ...call, function: { name: 'f', arguments: '{"city"' } }],
    });
  });

  it('text then reasoning in one chunk: the allowed prefix is shared out in that order', async () => {
    const [trimmed] = await cutAt({ content: 'Yes. ', reasoning_content: 'Because' }, 'Yes. Be');
    expect(trimmed?.delta).toEqual({ content: 'Yes. ', reasoning_content: 'Be' });
  });

  it('none of the chunk allowed: the finish chunk still announces its role', async () => {
    const chunks = await cutAt({ role: 'assistant', content: 'Hello' }, undefined);
    expect(chunks).toEqual([{ index: 0, delta: { role: 'assistant' }, finish_reason: 'length' }]);
  });
});
