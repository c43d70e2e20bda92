// Found by test/reliability/translator_fuzz.test.ts: fields inside a chat message that every translator
// reads (tool_calls, tool_call_id, content parts) were not checked, so a wrong type became a 500 in the
// Gemini and Bedrock translators (`tool_calls: "x"`, a numeric tool call id) or a body the provider
// refused in its own words (`function.name: []`). They are now the client's 400, as OpenAI answers.
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../errors.ts';
import { openaiChat } from './openai.ts';

const call = { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{}' } };

function refusal(messages: unknown[]): { param: string | null; code: string | null; message: string } {
  try {
    openaiChat.parse({ model: 'm', messages });
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError);
    const e = err as GatewayError;
    expect(e.code).toBe('SLUICE_ERR_INVALID_REQUEST');
    expect(e.status).toBe(400);
    return { param: e.param, code: e.publicCode, message: e.message };
  }
  throw new Error(`accepted: ${JSON.stringify(messages)}`);
}

const assistant = (extra: Record<string, unknown>) => ({ role: 'assistant', content: null, ...extra });

describe('chat messages are checked before any translator reads them', () => {
  it('accepts a well-formed tool conversation', () => {
    expect(() =>
      openaiChat.parse({
        model: 'm',
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'hi' }] },
          assistant({ tool_calls: [call] }),
          { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
        ],
      }),
    ).not.toThrow();
  });

  it.each([
    [assistant({ tool_calls: 'x' }), 'messages[0].tool_calls', 'invalid_type'],
    [assistant({ tool_calls: 5 }), 'messages[0].tool_calls', 'invalid_type'],
    [assistant({ tool_calls: [null] }), 'messages[0].tool_calls[0]', 'invalid_type'],
    [assistant({ tool_calls: [{ ...call, id: 9 }] }), 'messages[0].tool_calls[0].id', 'invalid_type'],
    [
      assistant({ tool_calls: [{ ...call, function: 'f' }] }),
      'messages[0].tool_calls[0].function',
      'invalid_type',
    ],
    [
      assistant({ tool_calls: [{ ...call, function: { name: [], arguments: '{}' } }] }),
      'messages[0].tool_calls[0].function.name',
      'invalid_type',
    ],
    [
      assistant({ tool_calls: [{ ...call, function: { name: 'f' } }] }),
      'messages[0].tool_calls[0].function.arguments',
      'missing_required_parameter',
    ],
    [{ role: 'tool', content: 'x' }, 'messages[0].tool_call_id', 'missing_required_parameter'],
    [
      { role: 'tool', tool_call_id: { toString: 0 }, content: 'x' },
      'messages[0].tool_call_id',
      'invalid_type',
    ],
    [{ role: 'user', content: [{ type: { toString: 0 } }] }, 'messages[0].content[0].type', 'invalid_type'],
    [{ role: 'user', content: [{ type: 'text', text: 5 }] }, 'messages[0].content[0].text', 'invalid_type'],
    [{ role: 'user', content: ['hi'] }, 'messages[0].content[0]', 'invalid_type'],
    [{ role: 'user', content: 'hi', name: { toString: 0 } }, 'messages[0].name', 'invalid_type'],
  ])('refuses %j naming %s', (message, param, code) => {
    const r = refusal([message]);
    expect(r.param).toBe(param);
    expect(r.code).toBe(code);
    expect(r.message).toContain(param);
  });

  // found by the same fuzz: a tool result without its call (or a call without its result) reached
  // Anthropic and Bedrock, which refused it in their own words ("tool_use ids were found without
  // tool_result blocks"), where OpenAI answers the client's 400 itself
  it.each([
    [
      [
        { role: 'user', content: 'hi' },
        { role: 'tool', tool_call_id: 'call_1', content: 'x' },
      ],
      'messages[1].role',
    ],
    [
      [assistant({ tool_calls: [call] }), { role: 'tool', tool_call_id: 'call_2', content: 'x' }],
      'messages[1].role',
    ],
    [[assistant({ tool_calls: [call] }), { role: 'user', content: 'and?' }], 'messages[1]'],
    [[{ role: 'user', content: 'hi' }, assistant({ tool_calls: [call] })], 'messages[1]'],
  ])('refuses a tool result and call that do not pair up: %j', (messages, param) => {
    expect(refusal(messages).param).toBe(param);
  });

  it('accepts several results answering several calls, in any order', () => {
    const two = [call, { ...call, id: 'call_2' }];
    expect(() =>
      openaiChat.parse({
        model: 'm',
        messages: [
          { role: 'user', content: 'hi' },
          assistant({ tool_calls: two }),
          { role: 'tool', tool_call_id: 'call_2', content: 'b' },
          { role: 'tool', tool_call_id: 'call_1', content: 'a' },
          { role: 'user', content: 'thanks' },
        ],
      }),
    ).not.toThrow();
  });

  // found by the same fuzz: a user message's tool_calls: 1e-48 was a 500 in the Gemini translator
  // (it collects the calls of every message), and a function name with characters outside OpenAI's
  // pattern went to Anthropic, Gemini and Bedrock, which refused it in their own words
  it.each([
    [{ role: 'user', content: 'hi', tool_calls: 1e-48 }, 'messages[0].tool_calls'],
    [{ role: 'system', content: 'hi', tool_calls: [5] }, 'messages[0].tool_calls[0]'],
  ])('checks tool_calls whatever the role: %j', (message, param) => {
    expect(refusal([message]).param).toBe(param);
  });

  it.each([
    [5, 'tools'],
    [[null], 'tools[0]'],
    [[{ type: { toString: 0 } }], 'tools[0].type'],
    [[{ type: 'function' }], 'tools[0].function'],
    [[{ type: 'function', function: { name: 'get weather' } }], 'tools[0].function.name'],
    [[{ type: 'function', function: { name: 'x'.repeat(65) } }], 'tools[0].function.name'],
    [[{ type: 'function', function: { name: 'f', parameters: [] } }], 'tools[0].function.parameters'],
    [[{ type: 'function', function: { name: 'f', description: 5 } }], 'tools[0].function.description'],
  ])('refuses tools %j naming %s', (tools, param) => {
    let caught: GatewayError | undefined;
    try {
      openaiChat.parse({ model: 'm', messages: [{ role: 'user', content: 'hi' }], tools });
    } catch (err) {
      caught = err as GatewayError;
    }
    expect(caught).toBeInstanceOf(GatewayError);
    expect(caught?.param).toBe(param);
  });
});
