// OpenAI chat fields Gemini and Bedrock cannot honour must be a 400 naming the field, as they are for
// Anthropic, never silently dropped: a client that biases tokens, asks for web search or still sends
// the deprecated `functions` (or, on Bedrock, penalties) got an answer that ignored it and could not
// tell.
import { describe, expect, it } from 'vitest';
import { resolvedProvider, translateContext } from '../../../../test/helpers/provider_context.ts';
import { GatewayError } from '../../errors.ts';
import { toConverseRequest } from '../../wire/bedrock/from_openai.ts';
import { toGeminiRequest } from '../../wire/gemini/from_openai.ts';

const gemini = resolvedProvider('gemini', { credentials: { apiKey: 'g-key' }, name: 'gem' });
const bedrock = resolvedProvider('bedrock', {
  region: 'us-east-1',
  credentials: { accessKeyId: 'AKIA0000000000000000', secretAccessKey: 's' },
  name: 'aws',
});

const translate = {
  gemini: (body: Record<string, unknown>) =>
    toGeminiRequest(body, translateContext(gemini, { model: 'gemini-2.5-flash' })),
  bedrock: (body: Record<string, unknown>) =>
    toConverseRequest(body, translateContext(bedrock, { model: 'anthropic.claude-v1:0' })),
};

function refusal(f: () => unknown): GatewayError {
  try {
    f();
  } catch (err) {
    if (err instanceof GatewayError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

const ask = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };
const fn = { name: 'f', parameters: { type: 'object' } };

describe.each(['gemini', 'bedrock'] as const)('%s: fields it cannot honour', (backend) => {
  it.each([
    ['logit_bias', { logit_bias: { '50256': -100 } }],
    ['web_search_options', { web_search_options: {} }],
    ['functions', { functions: [fn] }],
    ['function_call', { functions: [fn], function_call: 'auto' }],
  ])('refuses %s, naming it', (param, extra) => {
    const err = refusal(() => translate[backend]({ ...ask, ...extra }));
    expect(err.code).toBe('SLUICE_ERR_UNSUPPORTED_FEATURE');
    expect(err.status).toBe(400);
    expect([param, 'functions']).toContain(err.param);
  });

  it('takes their empty or neutral forms', () => {
    expect(() =>
      translate[backend]({
        ...ask,
        logit_bias: {},
        presence_penalty: 0,
        frequency_penalty: 0,
        temperature: 1,
      }),
    ).not.toThrow();
  });
});

describe('bedrock: penalties Converse does not have', () => {
  it.each([
    ['presence_penalty', { presence_penalty: 0.5 }],
    ['frequency_penalty', { frequency_penalty: -0.5 }],
  ])('refuses %s, naming it', (param, extra) => {
    const err = refusal(() => translate.bedrock({ ...ask, ...extra }));
    expect(err.code).toBe('SLUICE_ERR_UNSUPPORTED_FEATURE');
    expect(err.param).toBe(param);
  });

  it('gemini takes the penalties and a temperature up to 2, as its API does', () => {
    const req = translate.gemini({ ...ask, presence_penalty: 0.5, frequency_penalty: 0.5, temperature: 1.5 });
    expect(req.generationConfig).toMatchObject({
      presencePenalty: 0.5,
      frequencyPenalty: 0.5,
      temperature: 1.5,
    });
  });
});
