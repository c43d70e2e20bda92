// Parallel tool calls from an OpenAI-compatible stream whose fragments interleave by `index` (the chat
// format allows it; clients assemble by index) must reach an Anthropic client as sequential blocks:
// each call one content_block_start, its deltas, one content_block_stop, and nothing of it after.
// Before, call 0 was closed when call 1 appeared and reopened for its next fragment: four blocks and
// JSON the Anthropic SDK could not parse. Through the real translator, fed in pieces of every size.
import { describe, expect, it } from 'vitest';
import {
  chatChunk,
  chatSse,
  INTERLEAVED_TARGET_CALLS,
  toolCallChunk,
} from '../../../../test/helpers/chat_chunks.ts';
import {
  assemble,
  assertAnthropicGrammar,
  ctxFor,
  joined,
  type ParsedEvent,
  parseSse,
  pieces,
  run,
} from '../../../../test/providers/anthropic_helpers.ts';
import type { StreamEvent } from '../types.ts';
import { anthropicToOpenAI } from './anthropic_to_openai.ts';

const call = (index: number, args: string, id?: string) => toolCallChunk(index, args, id, `tool_${index}`);
const chunk = chatChunk;
const sse = chatSse;
const ctx = () => ctxFor('openai', 'anthropic-messages', { stream: true });

function translate(frames: unknown[], size: number): ParsedEvent[] {
  const out = parseSse(joined(run(anthropicToOpenAI.createStream(ctx()), pieces(sse(frames), size))));
  assertAnthropicGrammar(out);
  return out;
}

const deltasOfBlock = (out: ParsedEvent[], index: number) =>
  out.filter((e) => e.data !== '[DONE]' && e.data.type === 'content_block_delta' && e.data.index === index);

describe('interleaved parallel tool calls -> sequential Anthropic tool_use blocks', () => {
  // the shape in the reports: both calls start, then the arguments of each, alternating
  const interleaved = INTERLEAVED_TARGET_CALLS;
  for (const size of [1, 7, 100_000]) {
    it(`gives each call one whole block (pieces of ${size})`, () => {
      const out = translate(interleaved, size);
      expect(assemble(out).tools).toEqual([
        { id: 'call_A', name: 'tool_0', input: { target: 'A_ONLY' } },
        { id: 'call_B', name: 'tool_1', input: { target: 'B_ONLY' } },
      ]);
      const starts = out.filter((e) => e.data !== '[DONE]' && e.data.type === 'content_block_start');
      expect(starts).toHaveLength(2);
    });
  }

  it('a call whose arguments are whole is closed as soon as the next one speaks; held text comes with it', () => {
    const out = translate(
      [
        call(0, '{"a":', 'call_A'),
        call(1, '{"b":', 'call_B'),
        call(2, '{"c":3}', 'call_C'),
        call(0, '1}'),
        // call 0 is whole now: the next fragment of another call closes it and sends call 1 so far
        call(1, '2'),
        call(1, '}'),
        chunk({}, 'tool_calls'),
      ],
      100_000,
    );
    expect(assemble(out).tools.map((t) => t.input)).toEqual([{ a: 1 }, { b: 2 }, { c: 3 }]);
    // call 1 went on live after its held start: its last piece is a delta of its own
    expect(
      deltasOfBlock(out, 1).map((e) => (e.data as { delta: { partial_json: string } }).delta.partial_json),
    ).toEqual(['{"b":2', '}']);
  });

  it('still streams calls one after the other piece by piece, as OpenAI sends them', () => {
    const out = translate(
      [
        call(0, '', 'call_A'),
        call(0, '{"x":'),
        call(0, '1}'),
        call(1, '', 'call_B'),
        call(1, '{"y":'),
        call(1, '2}'),
        chunk({}, 'tool_calls'),
      ],
      100_000,
    );
    expect(assemble(out).tools.map((t) => t.input)).toEqual([{ x: 1 }, { y: 2 }]);
    expect(deltasOfBlock(out, 1)).toHaveLength(2);
  });

  it('text after held calls: the calls go out whole first, the text in a block of its own', () => {
    const out = translate(
      [call(0, '{"a":', 'call_A'), call(1, '{"b":2}', 'call_B'), call(0, '1}'), chunk({ content: 'done' })],
      100_000,
    );
    const a = assemble(out);
    expect(a.tools.map((t) => t.input)).toEqual([{ a: 1 }, { b: 2 }]);
    expect(a.text).toBe('done');
  });

  it('a fragment of a call already sent (whitespace after its JSON) changes nothing', () => {
    const out = translate(
      [call(0, '{"a":1}', 'call_A'), call(1, '{"b":2}', 'call_B'), call(0, ' '), chunk({}, 'tool_calls')],
      100_000,
    );
    expect(assemble(out).tools.map((t) => t.input)).toEqual([{ a: 1 }, { b: 2 }]);
  });

  it('a cap that cuts a held fragment ends with the blocks the client saw, the held call left out', () => {
    const st = anthropicToOpenAI.createStream(ctx());
    const events = st.push(
      Buffer.from(sse([call(0, '{"a":', 'call_A'), call(1, '{"b":2}', 'call_B'), call(0, '1}')])),
    );
    const cut = events.findIndex((e) => e.text === '{"b":2}');
    expect(cut).toBeGreaterThan(0);
    // the part of the cut fragment the cap allows is not sent: its call never reached the client
    expect(st.textChunk('{"b"', events[cut] as StreamEvent)).toBe('');
    const ending = st.finish('length', { inputTokens: 5, outputTokens: 3 }, events[cut]);
    const out = parseSse(joined(events.slice(0, cut)) + ending);
    assertAnthropicGrammar(out);
    // call A stays cut where the cap cut the answer, as Anthropic's own max_tokens leaves a tool input
    const started = out.flatMap((e) =>
      e.data !== '[DONE]' && e.data.type === 'content_block_start'
        ? [(e.data.content_block as { id: string }).id]
        : [],
    );
    expect(started).toEqual(['call_A']);
  });
});
