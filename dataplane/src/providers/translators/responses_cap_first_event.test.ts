// A Responses stream on a translated backend whose very first text event is cut by an output cap (a
// grant smaller than the first delta): the ending must still open with response.created and
// response.in_progress, numbered from 0. Sluice wrote the head into that first event; the cut dropped
// it and the ending did not write it again, so the client got response.output_item.added first (the
// openai SDK's stream helper throws when its first event is not response.created).
import { describe, expect, it } from 'vitest';
import { resolvedProvider, translateContext } from '../../../../test/helpers/provider_context.ts';
import { SseParser } from '../../wire/sse.ts';
import { findTranslator } from '../registry.ts';
import type { StreamEvent, Translator } from '../types.ts';

type Obj = Record<string, unknown>;

const vllm = resolvedProvider('vllm', { baseUrl: 'http://127.0.0.1:9/v1', name: 'local' });
const translator = findTranslator('openai-responses', 'openai') as Translator;
const chunk = (delta: Obj) =>
  Buffer.from(
    `data: ${JSON.stringify({ id: 'c1', choices: [{ index: 0, delta, finish_reason: null }] })}\n\n`,
  );

async function firstEventCut(delta: Obj) {
  const c = translateContext(vllm, { model: 'm', stream: true, clientApi: 'openai-responses' });
  await translator.buildRequest({ model: 'm', input: 'Hi', stream: true }, c);
  const st = translator.createStream(c);
  const evs = st.push(chunk(delta));
  const cut = evs.find((e) => e.text) as StreamEvent;
  expect(evs.indexOf(cut)).toBe(0);
  return { st, cut };
}

const parse = (data: string) => new SseParser().push(data).map((f) => JSON.parse(f.data) as Obj);

describe('a cap that cuts the first event of a Responses stream', () => {
  for (const [what, delta] of [
    ['text', { role: 'assistant', content: 'Hello world' }],
    ['reasoning', { role: 'assistant', reasoning_content: 'Hmm, let me see' }],
    [
      'a function call',
      {
        tool_calls: [
          { index: 0, id: 'call_1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } },
        ],
      },
    ],
  ] as const) {
    it(`part of it allowed (${what}): the ending opens with the response head`, async () => {
      const { st, cut } = await firstEventCut(delta);
      const all = parse(
        st.textChunk('He', cut) + st.finish('length', { inputTokens: 1, outputTokens: 1 }, cut),
      );
      expect(all.slice(0, 2).map((e) => e.type)).toEqual(['response.created', 'response.in_progress']);
      expect(all.at(-1)?.type).toBe('response.incomplete');
      expect(all.map((e) => e.sequence_number)).toEqual(all.map((_, i) => i));
    });
  }

  it('none of it allowed: the ending is the head and response.incomplete', async () => {
    const { st, cut } = await firstEventCut({ role: 'assistant', content: 'Hello' });
    const all = parse(st.finish('length', { inputTokens: 1, outputTokens: 0 }, cut));
    expect(all.map((e) => e.type)).toEqual([
      'response.created',
      'response.in_progress',
      'response.incomplete',
    ]);
    expect(all.map((e) => e.sequence_number)).toEqual([0, 1, 2]);
  });
});
