// OpenAI chat -> Gemini: what OpenAI (or an Anthropic client through the composed translator) sends
// and Gemini refuses (function names in history, empty text parts, more than 5 stop sequences). Bodies
// are checked with the fake Gemini server's validator.
import { describe, expect, it } from 'vitest';
import { validateGenerate } from '../../../../test/fakes/gemini_validate.ts';
import { resolvedProvider, translateContext } from '../../../../test/helpers/provider_context.ts';
import type { GatewayError } from '../../errors.ts';
import { toGeminiRequest } from '../../wire/gemini/from_openai.ts';

const provider = resolvedProvider('gemini', { credentials: { apiKey: 'g-key' }, name: 'gem' });
const ctx = () => translateContext(provider, { model: 'gemini-2.5-flash' });

// The same rule holds for names in the conversation's history: Gemini refuses a functionCall or
// functionResponse part whose name breaks it. Sluice checked only the declared tools, so an assistant
// tool call named '9lives' (OpenAI takes it) went to Gemini and came back as Gemini's refusal.
describe("history names Gemini's rule refuses", () => {
  const history = (name: string, asFunctionMessage = false) => ({
    model: 'x',
    messages: [
      { role: 'user', content: 'hi' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'c1', type: 'function', function: { name, arguments: '{}' } }],
      },
      asFunctionMessage
        ? { role: 'function', name, content: 'ok' }
        : { role: 'tool', tool_call_id: 'c1', content: 'ok' },
    ],
  });

  it('the fake refuses such a call or response the way Gemini does', () => {
    const contents = (part: Record<string, unknown>, role: string) => ({
      contents: [
        { role: 'user', parts: [{ text: 'hi' }] },
        { role, parts: [part] },
      ],
    });
    expect(validateGenerate(contents({ functionCall: { name: '9lives', args: {} } }, 'model'))?.status).toBe(
      400,
    );
    expect(
      validateGenerate(contents({ functionResponse: { name: 'a b', response: {} } }, 'user'))?.message,
    ).toContain('Invalid function name');
  });

  it('answers 400 naming the message, and sends a name Gemini allows', async () => {
    for (const name of ['9lives', '-x', 'a b', 'x'.repeat(65)]) {
      let caught: GatewayError | undefined;
      try {
        toGeminiRequest(history(name), ctx());
      } catch (err) {
        caught = err as GatewayError;
      }
      expect(caught?.status, name).toBe(400);
      expect(caught?.param, name).toBe('messages[1].tool_calls[0].function.name');
    }
    for (const asFunction of [false, true]) {
      const body = toGeminiRequest(history('_get.weather-v2', asFunction), ctx());
      expect(validateGenerate(body)).toBeUndefined();
    }
  });

  it("answers 400 naming a function message's name", () => {
    const body = history('f', true);
    (body.messages[2] as { name: string }).name = '9lives';
    let caught: GatewayError | undefined;
    try {
      toGeminiRequest(body, ctx());
    } catch (err) {
      caught = err as GatewayError;
    }
    expect(caught?.status).toBe(400);
    expect(caught?.param).toBe('messages[2].name');
  });
});

// Gemini reads `text: ""` as an unset field and refuses the part ("required oneof field 'data' must
// have one initialized field"), in contents and in systemInstruction; OpenAI clients send content ""
// beside tool_calls. The fake refuses it now; Sluice never sends one.
describe('empty text for Gemini', () => {
  it('the fake refuses an empty text part the way Gemini does', () => {
    const user = { role: 'user', parts: [{ text: 'hi' }] };
    expect(validateGenerate({ contents: [{ role: 'user', parts: [{ text: '' }] }] })?.message).toContain(
      "required oneof field 'data'",
    );
    expect(
      validateGenerate({ contents: [user], systemInstruction: { parts: [{ text: '' }] } })?.message,
    ).toContain('system_instruction.parts[0].data');
    expect(validateGenerate({ contents: [user], systemInstruction: { parts: [{ text: ' ' }] } })).toBe(
      undefined,
    );
  });

  it('is left out of what Sluice sends', () => {
    const body = toGeminiRequest(
      {
        model: 'x',
        tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }],
        messages: [
          { role: 'system', content: '' },
          { role: 'developer', content: [{ type: 'text', text: '' }] },
          {
            role: 'user',
            content: [
              { type: 'text', text: '' },
              { type: 'text', text: 'hi' },
            ],
          },
          {
            role: 'assistant',
            content: '',
            tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }],
          },
          { role: 'tool', tool_call_id: 'c1', content: '' },
          { role: 'assistant', content: [{ type: 'text', text: '' }] },
          { role: 'user', content: 'next' },
        ],
      },
      ctx(),
    );
    expect(validateGenerate(body)).toBeUndefined();
    expect(body.systemInstruction).toBeUndefined();
  });
});

// Gemini takes at most 5 stop sequences (the fake refuses more, as Gemini does); OpenAI's limit is 4,
// Anthropic's clients may send more, which reached Gemini through the composed translator.
describe('more stop sequences than Gemini takes', () => {
  it('answers 400 naming stop, and sends 5', () => {
    const body = (n: number) => ({
      model: 'x',
      messages: [{ role: 'user', content: 'hi' }],
      stop: Array.from({ length: n }, (_, i) => `S${i}`),
    });
    let caught: GatewayError | undefined;
    try {
      toGeminiRequest(body(6), ctx());
    } catch (err) {
      caught = err as GatewayError;
    }
    expect(caught?.status).toBe(400);
    expect(caught?.param).toBe('stop');
    expect(validateGenerate(toGeminiRequest(body(5), ctx()))).toBeUndefined();
  });
});
