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
