// A Responses client on a chat backend whose parallel tool calls interleave by `index` (call 0 starts,
// call 1 starts, then their arguments alternate, as the chat format allows). Responses output items are
// sequential, and clients act on output_item.done: the Vercel AI SDK runs a function call with the
// arguments that event carries. Sluice closed call 0 when call 1 appeared and sent call 0's arguments as
// deltas of an item already done, so the Vercel AI SDK ran call 0 with `{}`. Each call is now one
// item: added, its argument deltas, done with the whole arguments, and nothing of it after.
import { describe, expect, it } from 'vitest';
import { chatChunk, INTERLEAVED_TARGET_CALLS, toolCallChunk } from '../../../../test/helpers/chat_chunks.ts';
import { resolvedProvider, translateContext } from '../../../../test/helpers/provider_context.ts';
import { SseParser } from '../../wire/sse.ts';
import { findTranslator } from '../registry.ts';
import type { StreamEvent, Translator } from '../types.ts';

type Obj = Record<string, unknown>;

const vllm = resolvedProvider('vllm', { baseUrl: 'http://127.0.0.1:9/v1', name: 'local' });
const translator = findTranslator('openai-responses', 'openai') as Translator;

const frame = (c: unknown) => `data: ${JSON.stringify(c)}\n\n`;
const chunk = (delta: Obj, finish: string | null = null) => frame(chatChunk(delta, finish));
const call = (index: number, args: string, id?: string) =>
  frame(toolCallChunk(index, args, id, `tool_${index}`));

async function stream() {
  const c = translateContext(vllm, { model: 'm', stream: true, clientApi: 'openai-responses' });
  await translator.buildRequest({ model: 'm', input: 'Hi', stream: true }, c);
  return translator.createStream(c);
}

function parse(data: string): Obj[] {
  return new SseParser().push(data).map((f) => JSON.parse(f.data) as Obj);
}

/** Throws unless every item is added once, gets deltas only while open, and is done once. */
function assertSequentialItems(all: Obj[]): void {
  const state = new Map<number, 'open' | 'done'>();
  for (const e of all) {
    const i = e.output_index as number | undefined;
    if (i === undefined) continue;
    if (e.type === 'response.output_item.added') {
      if (state.has(i)) throw new Error(`item ${i} added twice`);
      if ([...state.values()].includes('open')) throw new Error(`item ${i} added while another is open`);
      state.set(i, 'open');
    } else if (e.type === 'response.output_item.done') {
      if (state.get(i) !== 'open') throw new Error(`item ${i} done while not open`);
      state.set(i, 'done');
    } else if (state.get(i) !== 'open') throw new Error(`${String(e.type)} for item ${i}, which is not open`);
  }
}

const doneItems = (all: Obj[]) =>
  all.filter((e) => e.type === 'response.output_item.done').map((e) => e.item as Obj);

describe('interleaved parallel tool calls -> sequential Responses function_call items', () => {
  it('gives each call one item whose done event carries its whole arguments', async () => {
    const st = await stream();
    const frames = [...INTERLEAVED_TARGET_CALLS.map(frame), 'data: [DONE]\n\n'];
    const evs: StreamEvent[] = [];
    for (const f of frames) evs.push(...st.push(Buffer.from(f)));
    evs.push(...st.end());
    const all = parse(evs.map((e) => String(e.data)).join(''));
    assertSequentialItems(all);
    expect(doneItems(all).map((i) => [i.call_id, i.name, i.arguments])).toEqual([
      ['call_A', 'tool_0', '{"target":"A_ONLY"}'],
      ['call_B', 'tool_1', '{"target":"B_ONLY"}'],
    ]);
    const completed = all.at(-1)?.response as { output: Obj[] };
    expect(completed.output.map((i) => i.arguments)).toEqual(['{"target":"A_ONLY"}', '{"target":"B_ONLY"}']);
    // every argument byte still counts as output, once
    expect(evs.map((e) => e.text ?? '').join('').length).toBe(
      '{"target":"A_ONLY"}{"target":"B_ONLY"}'.length,
    );
  });

  it('text after held calls: the calls are done first, then the message', async () => {
    const st = await stream();
    const evs = [
      ...st.push(Buffer.from(call(0, '{"a":', 'call_A') + call(1, '{"b":2}', 'call_B') + call(0, '1}'))),
      ...st.push(Buffer.from(chunk({ content: 'done' }, 'stop'))),
      ...st.push(Buffer.from('data: [DONE]\n\n')),
    ];
    const all = parse(evs.map((e) => String(e.data)).join(''));
    assertSequentialItems(all);
    expect(doneItems(all).map((i) => i.arguments ?? i.type)).toEqual(['{"a":1}', '{"b":2}', 'message']);
  });

  it('a cap that cuts a held fragment sends nothing of that call', async () => {
    const st = await stream();
    const evs = st.push(Buffer.from(call(0, '{"a":', 'call_A') + call(1, '{"b":2}', 'call_B')));
    const cut = evs.findIndex((e) => e.text === '{"b":2}');
    expect(cut).toBeGreaterThan(0);
    expect(st.textChunk('{"b"', evs[cut])).toBe('');
    const ending = st.finish('length', { inputTokens: 2, outputTokens: 3 }, evs[cut]);
    const all = parse(
      evs
        .slice(0, cut)
        .map((e) => String(e.data))
        .join('') + ending,
    );
    assertSequentialItems(all);
    expect(doneItems(all).map((i) => i.call_id)).toEqual(['call_A']);
    expect(all.at(-1)?.type).toBe('response.incomplete');
  });
});
