// Whole answers cut to the grant when an upstream ignored max_tokens, and left alone when it did not.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { countTokens } from '../tokens/counter.ts';
import { answerOutputTokens, capWholeAnswer } from './cap_answer.ts';

const cap = { tokens: 5, encoding: 'o200k_base' as const };
const long = 'one two three four five six seven eight nine ten eleven twelve';

function chat(contents: string[], completion: number) {
  return Buffer.from(
    JSON.stringify({
      id: 'x',
      object: 'chat.completion',
      choices: contents.map((content, index) => ({
        index,
        message: { role: 'assistant', content },
        finish_reason: 'stop',
      })),
      usage: { prompt_tokens: 9, completion_tokens: completion, total_tokens: 9 + completion },
    }),
  );
}

describe('capWholeAnswer', () => {
  it('cuts every choice over the grant: finish_reason length, usage = delivered', () => {
    const r = capWholeAnswer(
      chat([long, 'short'], 14),
      { inputTokens: 9, outputTokens: 14 },
      cap,
      'openai-chat',
    );
    expect(r).toBeDefined();
    const body = JSON.parse(String(r?.body));
    expect(countTokens(body.choices[0].message.content, 'o200k_base')).toBe(5);
    expect(body.choices[0].finish_reason).toBe('length');
    expect(body.choices[1]).toMatchObject({ message: { content: 'short' }, finish_reason: 'stop' });
    const delivered = 5 + countTokens('short', 'o200k_base');
    expect(body.usage).toEqual({
      prompt_tokens: 9,
      completion_tokens: delivered,
      total_tokens: 9 + delivered,
    });
    expect(r?.usage).toMatchObject({ inputTokens: 9, outputTokens: delivered });
  });

  it('leaves an answer alone when the provider says each choice kept to the grant', () => {
    const body = chat(['four words right here', 'and four more here'], 9);
    expect(capWholeAnswer(body, { inputTokens: 9, outputTokens: 4 }, cap, 'openai-chat')).toBeUndefined();
    // n = 2 choices of at most 5 each: 9 in all is within what was granted
    expect(capWholeAnswer(body, { inputTokens: 9, outputTokens: 9 }, cap, 'openai-chat')).toBeUndefined();
  });

  it('drops a tool call that does not fit rather than send broken arguments', () => {
    const body = Buffer.from(
      JSON.stringify({
        choices: [
          {
            index: 0,
            message: {
              role: 'assistant',
              content: null,
              tool_calls: [
                { id: 'c', type: 'function', function: { name: 'f', arguments: JSON.stringify({ long }) } },
              ],
            },
            finish_reason: 'tool_calls',
          },
        ],
        usage: { prompt_tokens: 1, completion_tokens: 30, total_tokens: 31 },
      }),
    );
    const r = capWholeAnswer(body, { inputTokens: 1, outputTokens: 30 }, cap, 'openai-chat');
    const msg = JSON.parse(String(r?.body)).choices[0];
    expect(msg.message.tool_calls).toBeUndefined();
    expect(msg.finish_reason).toBe('length');
  });

  it('cuts an Anthropic message: stop_reason max_tokens, output_tokens = delivered', () => {
    const body = Buffer.from(
      JSON.stringify({
        type: 'message',
        content: [{ type: 'text', text: long }],
        stop_reason: 'end_turn',
        usage: { input_tokens: 3, output_tokens: 12 },
      }),
    );
    const r = capWholeAnswer(body, { inputTokens: 3, outputTokens: 12 }, cap, 'anthropic-messages');
    const msg = JSON.parse(String(r?.body));
    expect(msg.stop_reason).toBe('max_tokens');
    expect(countTokens(msg.content[0].text, 'o200k_base')).toBe(5);
    expect(msg.usage).toEqual({ input_tokens: 3, output_tokens: 5 });
  });
});

describe('capWholeAnswer on a Responses API response', () => {
  const response = (output: unknown[], outputTokens: number) =>
    Buffer.from(
      JSON.stringify({
        id: 'resp_1',
        object: 'response',
        status: 'completed',
        incomplete_details: null,
        output,
        usage: { input_tokens: 9, output_tokens: outputTokens, total_tokens: 9 + outputTokens },
      }),
    );
  const message = (text: string) => ({
    type: 'message',
    id: 'msg_1',
    status: 'completed',
    role: 'assistant',
    content: [{ type: 'output_text', text, annotations: [] }],
  });

  it('cuts the text to the grant, drops a call that does not fit, and reports incomplete', () => {
    const call = { type: 'function_call', id: 'fc_1', call_id: 'c1', name: 'f', arguments: '{"a":1}' };
    const r = capWholeAnswer(
      response([message(long), call], 20),
      { inputTokens: 9, outputTokens: 20 },
      cap,
      'openai-responses',
    );
    const body = JSON.parse(String(r?.body));
    expect(body.status).toBe('incomplete');
    expect(body.incomplete_details).toEqual({ reason: 'max_output_tokens' });
    expect(body.output).toHaveLength(1);
    expect(body.output[0].status).toBe('incomplete');
    expect(countTokens(body.output[0].content[0].text, 'o200k_base')).toBe(5);
    expect(body.usage).toMatchObject({ input_tokens: 9, output_tokens: 5, total_tokens: 14 });
    expect(r?.usage.outputTokens).toBe(5);
  });

  it('leaves a response within the grant alone', () => {
    expect(
      capWholeAnswer(
        response([message('one two')], 2),
        { inputTokens: 9, outputTokens: 2 },
        cap,
        'openai-responses',
      ),
    ).toBeUndefined();
  });
});

// A passed-through answer (OpenAI on OpenAI, Anthropic on Anthropic, native Responses) reaches the cap
// as the provider sent it: any JSON at all. A cut or count must not throw on it (that was a 500).
describe('an answer of any shape from a passthrough upstream', () => {
  const apis = ['openai-chat', 'openai-completions', 'anthropic-messages', 'openai-responses'] as const;

  it.each([
    ['openai-responses', 'false'],
    ['anthropic-messages', '"text"'],
    ['openai-chat', '{"choices":[null,5,{"message":"x"}]}'],
    [
      'openai-chat',
      '{"choices":[{"message":{"content":"one two three four five six seven","tool_calls":[null]}}]}',
    ],
    ['anthropic-messages', '{"content":[null,{"type":"text","text":"x"}]}'],
    ['openai-responses', '{"output":[null]}'],
    ['openai-responses', '{"output":[{"type":"message","content":[null]}]}'],
  ] as const)('%s %s: no throw', (api, body) => {
    expect(() => capWholeAnswer(body, undefined, { ...cap, tokens: 1 }, api)).not.toThrow();
    expect(() => answerOutputTokens(body, api, cap.encoding)).not.toThrow();
  });

  it('any JSON, any API: cut or left alone, never a throw; a cut answer is JSON', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...apis),
        fc.jsonValue({ maxDepth: 5 }),
        fc.nat({ max: 8 }),
        (api, v, tokens) => {
          const body = JSON.stringify(v) ?? 'null';
          const out = capWholeAnswer(body, undefined, { ...cap, tokens }, api);
          if (out) expect(() => JSON.parse(out.body.toString())).not.toThrow();
          expect(answerOutputTokens(body, api, cap.encoding)).toBeGreaterThanOrEqual(0);
        },
      ),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 300) },
    );
  });
});
