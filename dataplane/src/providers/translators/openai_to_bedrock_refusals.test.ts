// OpenAI chat -> Bedrock Converse: tool call ids and names OpenAI (or an Anthropic client through the
// composed translator) takes and Converse refuses. Bodies are checked with the fake Bedrock validator.
import { describe, expect, it } from 'vitest';
import { validateConverse } from '../../../../test/fakes/bedrock_validate.ts';
import { resolvedProvider, translateContext } from '../../../../test/helpers/provider_context.ts';
import type { GatewayError } from '../../errors.ts';
import { toConverseRequest } from '../../wire/bedrock/from_openai.ts';

const KEYS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const provider = resolvedProvider('bedrock', { region: 'us-west-2', credentials: KEYS, name: 'aws' });
const ctx = () => translateContext(provider, { model: 'anthropic.claude-3-5-sonnet-20240620-v1:0' });

// Bedrock's ToolUseBlock takes a name and a toolUseId of [a-zA-Z0-9_-], 1 to 64 long (and a
// ToolResultBlock the same toolUseId). OpenAI takes any id ('functions.f:0' from other backends, ids
// longer than 64) and checks only declared tool names, so such history went to Bedrock and was
// refused. Ids are mapped (they only pair calls with results); a name cannot be, so it is the 400.
describe('tool call ids and names in history Bedrock refuses', () => {
  const tools = [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }];
  const history = (id: string, name = 'f') => ({
    model: 'x',
    tools,
    messages: [
      { role: 'user', content: 'hi' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id, type: 'function', function: { name, arguments: '{}' } }],
      },
      { role: 'tool', tool_call_id: id, content: 'ok' },
    ],
  });

  it('sends ids Bedrock refuses as ids it takes, the same on the call and its result', () => {
    for (const id of ['functions.f:0', `call_${'x'.repeat(70)}`, 'call_ok']) {
      const body = toConverseRequest(history(id), ctx());
      expect(validateConverse(body), id).toBeUndefined();
      const messages = body.messages as Array<{ content: Array<Record<string, { toolUseId: string }>> }>;
      const use = messages[1]?.content[0]?.toolUse?.toolUseId;
      expect(messages[2]?.content[0]?.toolResult?.toolUseId).toBe(use);
      if (id === 'call_ok') expect(use).toBe(id);
    }
  });

  it('answers 400 naming the message for a tool call name Bedrock refuses', () => {
    for (const name of ['a b', 'functions.f', 'x'.repeat(65)]) {
      let caught: GatewayError | undefined;
      try {
        toConverseRequest(history('c1', name), ctx());
      } catch (err) {
        caught = err as GatewayError;
      }
      expect(caught?.status, name).toBe(400);
      expect(caught?.param, name).toBe('messages[1].tool_calls[0].function.name');
    }
  });
});

// Blank text is left out for Converse; a blank last user turn left out would leave the assistant's
// message last, and the model would continue it instead of answering a new turn.
describe('a blank last user turn for Bedrock', () => {
  it('answers 400 naming the message', () => {
    for (const blankTurn of [' \n', [{ type: 'text', text: ' ' }]]) {
      let caught: GatewayError | undefined;
      try {
        toConverseRequest(
          {
            model: 'm',
            messages: [
              { role: 'user', content: 'hi' },
              { role: 'assistant', content: 'hello' },
              { role: 'user', content: blankTurn },
            ],
          },
          ctx(),
        );
      } catch (err) {
        caught = err as GatewayError;
      }
      expect(caught?.status).toBe(400);
      expect(caught?.code).toBe('SLUICE_ERR_INVALID_REQUEST');
      expect(caught?.param).toBe('messages[2].content');
    }
  });
});

// Anthropic clients may declare tool names of up to 128 characters (its pattern), Bedrock's toolSpec
// takes 64: such a tool reached Bedrock through the composed Anthropic translator and was refused in
// Bedrock's words.
describe('declared tool names Bedrock refuses', () => {
  it('answers 400 naming the tool', () => {
    let caught: GatewayError | undefined;
    try {
      toConverseRequest(
        {
          model: 'x',
          messages: [{ role: 'user', content: 'hi' }],
          tools: [
            { type: 'function', function: { name: 'f', parameters: { type: 'object' } } },
            { type: 'function', function: { name: 'x'.repeat(100), parameters: { type: 'object' } } },
          ],
        },
        ctx(),
      );
    } catch (err) {
      caught = err as GatewayError;
    }
    expect(caught?.status).toBe(400);
    expect(caught?.param).toBe('tools[1].function.name');
  });
});
