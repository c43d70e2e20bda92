// Found by test/reliability/translator_fuzz.test.ts: tool_choice.type went through String(), which
// throws for an object whose toString is not a function, so the client got a 500 instead of its 400.
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../errors.ts';
import { anthropicMessages } from './anthropic.ts';

const base = {
  model: 'm',
  max_tokens: 10,
  messages: [{ role: 'user', content: 'hi' }],
  tools: [{ name: 'f', input_schema: { type: 'object' } }],
};

describe('hostile values in an Anthropic Messages request', () => {
  it.each([
    [{ tool_choice: { type: { toString: 0 } } }, 'tool_choice.type'],
    [{ tool_choice: { type: ['auto'] } }, 'tool_choice.type'],
    [{ tool_choice: { type: 'tool', name: { toString: 0 } } }, 'tool_choice.name'],
    // the same fuzz: image data that is not base64 went to Gemini and Bedrock, which refused it
    [
      {
        messages: [
          {
            role: 'user',
            content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'ɺᙏ𐚞' } }],
          },
        ],
      },
      'messages.0.content.0.source.data',
    ],
  ])('answers %j with a 400 naming %s', (extra, param) => {
    let caught: unknown;
    try {
      anthropicMessages.parse({ ...base, ...extra });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(GatewayError);
    expect((caught as GatewayError).status).toBe(400);
    expect((caught as GatewayError).param).toBe(param);
  });
});
