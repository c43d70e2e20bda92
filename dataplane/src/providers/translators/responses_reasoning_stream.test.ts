// Reasoning from a translated backend (Gemini thoughts, Anthropic thinking, a chat server's
// reasoning_content) reaches a Responses client as a `reasoning` item with `reasoning_text` content.
// The documented event set announces that content like a message's text: response.content_part.added
// with a reasoning_text part before the deltas, response.content_part.done after reasoning_text.done.
// Sluice sent the deltas without the part, and the openai SDK's stream accumulator (responses.stream(),
// finalResponse()) threw "missing content at index 0" on the first reasoning delta.
import { describe, expect, it } from 'vitest';
import { resolvedProvider, translateContext } from '../../../../test/helpers/provider_context.ts';
import { SseParser } from '../../wire/sse.ts';
import { findTranslator } from '../registry.ts';
import type { StreamEvent, Translator } from '../types.ts';

type Obj = Record<string, unknown>;

const vllm = resolvedProvider('vllm', { baseUrl: 'http://127.0.0.1:9/v1', name: 'local' });
const translator = findTranslator('openai-responses', 'openai') as Translator;

const chunk = (delta: Obj, finish: string | null = null) =>
  `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;

async function stream() {
  const c = translateContext(vllm, { model: 'm', stream: true, clientApi: 'openai-responses' });
  await translator.buildRequest({ model: 'm', input: 'Hi', stream: true }, c);
  return translator.createStream(c);
}

const parse = (evs: StreamEvent[]) =>
  new SseParser().push(evs.map((e) => String(e.data)).join('')).map((f) => JSON.parse(f.data) as Obj);

describe('reasoning text -> a Responses reasoning item', () => {
  it('announces the reasoning_text part before its deltas and closes it after', async () => {
    const st = await stream();
    const evs = [
      ...st.push(Buffer.from(chunk({ role: 'assistant', reasoning_content: 'Think' }))),
      ...st.push(Buffer.from(chunk({ reasoning_content: 'ing.' }))),
      ...st.push(Buffer.from(chunk({ content: 'Hi' }, 'stop'))),
      ...st.push(Buffer.from('data: [DONE]\n\n')),
    ];
    const all = parse(evs);
    const reasoning = all.filter((e) => e.output_index === 0).map((e) => e.type);
    expect(reasoning).toEqual([
      'response.output_item.added',
      'response.content_part.added',
      'response.reasoning_text.delta',
      'response.reasoning_text.delta',
      'response.reasoning_text.done',
      'response.content_part.done',
      'response.output_item.done',
    ]);
    const added = all.find((e) => e.type === 'response.content_part.added' && e.output_index === 0);
    expect(added).toMatchObject({ content_index: 0, part: { type: 'reasoning_text', text: '' } });
    const done = all.find((e) => e.type === 'response.content_part.done' && e.output_index === 0);
    expect(done).toMatchObject({ content_index: 0, part: { type: 'reasoning_text', text: 'Thinking.' } });
    expect(all.map((e) => e.sequence_number)).toEqual(all.map((_, i) => i));
  });

  it('a cap inside the reasoning closes the part too', async () => {
    const st = await stream();
    const first = st.push(Buffer.from(chunk({ role: 'assistant', reasoning_content: 'Long ' })));
    const cut = st
      .push(Buffer.from(chunk({ reasoning_content: 'thought' })))
      .find((e) => e.text) as StreamEvent;
    const ending = st.textChunk('tho', cut) + st.finish('length', { inputTokens: 2, outputTokens: 1 }, cut);
    const all = parse([...first, { data: ending }]);
    const types = all.map((e) => e.type);
    expect(types.slice(-4)).toEqual([
      'response.reasoning_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.incomplete',
    ]);
    expect(types.filter((t) => t === 'response.content_part.added')).toHaveLength(1);
    const done = all.find((e) => e.type === 'response.content_part.done');
    expect(done).toMatchObject({ part: { type: 'reasoning_text', text: 'Long tho' } });
  });
});
