// Found by test/reliability/translator_fuzz.test.ts: a Responses function tool's name was only checked
// to be a string, so a name outside OpenAI's pattern went to Anthropic, Gemini and Bedrock, which
// refused it in their own words.
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../errors.ts';
import { validateResponsesBody } from './responses_validate.ts';

describe('Responses tools', () => {
  it.each(['get weather', '', 'x'.repeat(65), 'naïve'])('refuses the function name %j', (name) => {
    let caught: unknown;
    try {
      validateResponsesBody({ model: 'm', input: 'hi', tools: [{ type: 'function', name }] });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(GatewayError);
    expect((caught as GatewayError).status).toBe(400);
    expect((caught as GatewayError).param).toBe('tools[0].name');
  });

  it('takes a name in the pattern', () => {
    expect(() =>
      validateResponsesBody({
        model: 'm',
        input: 'hi',
        tools: [{ type: 'function', name: 'get_weather-2' }],
      }),
    ).not.toThrow();
  });
});

// An item_reference (the Vercel AI SDK's way to send earlier steps' items while `store` is on) is taken
// and resolved from the stored responses later (responses/conversation.ts); it needs its string id.
describe('Responses item_reference items', () => {
  it('takes one with an id', () => {
    expect(() =>
      validateResponsesBody({
        model: 'm',
        input: [
          { type: 'item_reference', id: 'msg_1' },
          { role: 'user', content: 'hi' },
        ],
      }),
    ).not.toThrow();
  });

  it.each([{}, { id: 7 }])('refuses one without a string id (%j)', (extra) => {
    let caught: unknown;
    try {
      validateResponsesBody({ model: 'm', input: [{ type: 'item_reference', ...extra }] });
    } catch (err) {
      caught = err;
    }
    expect((caught as GatewayError).status).toBe(400);
    expect((caught as GatewayError).param).toBe('input[0].id');
  });
});
