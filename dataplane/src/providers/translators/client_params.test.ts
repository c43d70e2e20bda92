// A refusal from a backend translator reached through a chat body names the client's fields: an
// Anthropic client routed to Gemini or Bedrock was told `messages[4].tool_calls[0].function.name` (the
// chat message index, after the system prompt and the split tool results) for its message 2, and
// `stop` for its stop_sequences; a Responses client was told about `messages`, which it never sent.
import { describe, expect, it } from 'vitest';
import { resolvedProvider, translateContext } from '../../../../test/helpers/provider_context.ts';
import { GatewayError } from '../../errors.ts';
import type { Translator } from '../types.ts';
import { anthropicToBedrock } from './anthropic_to_bedrock.ts';
import { anthropicToGemini } from './anthropic_to_gemini.ts';
import { ANTHROPIC_NAMES, clientParam, inClientTerms, RESPONSES_NAMES } from './client_params.ts';
import { openaiChatToGemini } from './openai_to_gemini.ts';
import { responsesVia } from './responses_to_any.ts';

const gemini = resolvedProvider('gemini', { credentials: { apiKey: 'g-key' }, name: 'gem' });
const bedrock = resolvedProvider('bedrock', {
  name: 'br',
  region: 'us-east-1',
  credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
});

async function refusal(
  t: Translator,
  body: Record<string, unknown>,
  ctx: ReturnType<typeof translateContext>,
) {
  try {
    await t.buildRequest(body, ctx);
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError);
    return err as GatewayError;
  }
  throw new Error('the translator took the body');
}

describe('clientParam', () => {
  const origins = ['system', 'messages[0]', 'messages[1]', 'messages[2]', 'messages[2]'];
  it.each([
    ['messages[4].tool_calls[0].function.name', 'messages[2]'],
    ['messages[0].content', 'system'],
    ['messages[9].content', 'messages'],
    ['messages', 'messages'],
    ['stop', 'stop_sequences'],
    ['tools[1].function.name', 'tools[1].name'],
    ['tools[1].function.parameters', 'tools[1].input_schema'],
    ['tools[3]', 'tools[3]'],
    ['response_format', 'output_config.format'],
    ['temperature', 'temperature'],
  ])('names %s as the Anthropic client sent it: %s', (chat, client) => {
    expect(clientParam(chat, origins, ANTHROPIC_NAMES)).toBe(client);
  });

  it.each([
    ['messages[1].tool_calls[0].function.name', 'input[3]'],
    ['messages[0].content', 'instructions'],
    ['messages', 'input'],
    ['max_tokens', 'max_output_tokens'],
    ['tools[0].function.name', 'tools[0].name'],
    ['reasoning_effort', 'reasoning.effort'],
  ])('names %s as the Responses client sent it: %s', (chat, client) => {
    expect(clientParam(chat, ['instructions', 'input[3]'], RESPONSES_NAMES)).toBe(client);
  });

  it('rewrites the path the message quotes, and leaves other errors alone', () => {
    const err = new GatewayError('SLUICE_ERR_INVALID_REQUEST', "'messages[1].tool_call_id' is required", {
      param: 'messages[1].tool_call_id',
    });
    const mapped = inClientTerms(err, ['system', 'messages[0]'], ANTHROPIC_NAMES) as GatewayError;
    expect(mapped.param).toBe('messages[0]');
    expect(mapped.message).toBe("'messages[0]' is required");
    expect(mapped.status).toBe(400);
    expect(mapped.code).toBe('SLUICE_ERR_INVALID_REQUEST');
    const plain = new Error('boom');
    expect(inClientTerms(plain, [], ANTHROPIC_NAMES)).toBe(plain);
    const unnamed = new GatewayError('SLUICE_ERR_INVALID_REQUEST', 'no param');
    expect(inClientTerms(unnamed, [], ANTHROPIC_NAMES)).toBe(unnamed);
  });
});

describe('Anthropic client through the composed translators', () => {
  // system prompt first, then a turn whose tool result and text become two chat messages
  const conversation = (toolName: string) => ({
    model: 'm',
    max_tokens: 100,
    system: 'be brief',
    messages: [
      { role: 'user', content: 'weather?' },
      { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'f', input: {} }] },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 't1', content: 'sunny' },
          { type: 'text', text: 'and tomorrow?' },
        ],
      },
      { role: 'assistant', content: [{ type: 'tool_use', id: 't2', name: toolName, input: {} }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't2', content: 'rain' }] },
    ],
    tools: [{ name: 'f', input_schema: { type: 'object' } }],
  });
  const geminiCtx = () =>
    translateContext(gemini, { model: 'gemini-2.5-flash', clientApi: 'anthropic-messages' });
  const bedrockCtx = () =>
    translateContext(bedrock, { model: 'anthropic.claude-3-haiku', clientApi: 'anthropic-messages' });

  it("names the client's message whose tool call Gemini and Bedrock would refuse", async () => {
    for (const [t, ctx] of [
      [anthropicToGemini, geminiCtx],
      [anthropicToBedrock, bedrockCtx],
    ] as const) {
      const err = await refusal(t, conversation('9 lives'), ctx());
      expect(err.status).toBe(400);
      // chat message 5 (system, user, assistant, tool, user, assistant): the client's message 3
      expect(err.param).toBe('messages[3]');
    }
  });

  it('names stop_sequences and tools[i].name, as the client sent them', async () => {
    const stops = { ...conversation('f'), stop_sequences: ['a', 'b', 'c', 'd', 'e', 'f'] };
    expect((await refusal(anthropicToGemini, stops, geminiCtx())).param).toBe('stop_sequences');
    const tools = {
      ...conversation('f'),
      tools: [
        { name: 'f', input_schema: { type: 'object' } },
        { name: 'x'.repeat(100), input_schema: { type: 'object' } },
      ],
    };
    expect((await refusal(anthropicToBedrock, tools, bedrockCtx())).param).toBe('tools[1].name');
  });

  it('still translates a conversation the backend takes', async () => {
    const req = await anthropicToGemini.buildRequest(conversation('get_weather'), geminiCtx());
    expect(JSON.parse(String(req.body)).contents).toHaveLength(5);
  });
});

describe('Responses client through the composed translator', () => {
  const toGemini = responsesVia(openaiChatToGemini);
  const ctx = () => translateContext(gemini, { model: 'gemini-2.5-flash', clientApi: 'openai-responses' });

  it("names the client's input item, not a chat message", async () => {
    const body = {
      model: 'm',
      instructions: 'be brief',
      input: [
        { role: 'user', content: 'weather?' },
        { type: 'function_call', call_id: 'c1', name: '9 lives', arguments: '{}' },
        { type: 'function_call_output', call_id: 'c1', output: 'sunny' },
      ],
    };
    const err = await refusal(toGemini, body, ctx());
    expect(err.status).toBe(400);
    expect(err.param).toBe('input[1]');
  });
});
