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

// Anthropic's own rule (400 invalid_request_error "text content blocks must contain non-whitespace
// text"), checked before routing so an Anthropic client gets it in Anthropic's words whatever backend
// serves the route (Gemini and Bedrock would refuse the blank text in theirs, or take it).
describe('blank text in an Anthropic Messages request', () => {
  const refusal = (messages: unknown[], system?: unknown): GatewayError => {
    try {
      anthropicMessages.parse({ ...base, messages, ...(system === undefined ? {} : { system }) });
    } catch (err) {
      if (err instanceof GatewayError) return err;
      throw err;
    }
    throw new Error('expected a 400');
  };

  it.each([
    [[{ role: 'user', content: '  ' }], 'messages.0'],
    [[{ role: 'user', content: [{ type: 'text', text: '\n\t' }] }], 'messages.0.content.0'],
    [
      [
        { role: 'user', content: 'hi' },
        {
          role: 'assistant',
          content: [
            { type: 'text', text: ' ' },
            { type: 'tool_use', id: 't1', name: 'f', input: {} },
          ],
        },
      ],
      'messages.1.content.0',
    ],
    [
      [
        {
          role: 'user',
          content: [{ type: 'tool_result', tool_use_id: 't', content: [{ type: 'text', text: ' ' }] }],
        },
      ],
      'messages.0.content.0.content.0',
    ],
  ])('refuses %j naming %s', (messages, param) => {
    const err = refusal(messages);
    expect(err.status).toBe(400);
    expect(err.param).toBe(param);
    expect(err.message).toContain('text content blocks must contain non-whitespace text');
  });

  it('refuses a whitespace-only final assistant prefill', () => {
    const err = refusal([
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: ' ' },
    ]);
    expect(err.status).toBe(400);
    expect(err.param).toBe('messages.1');
  });

  it('takes text with whitespace around words, and the empty final prefill', () => {
    expect(() =>
      anthropicMessages.parse({
        ...base,
        messages: [
          { role: 'user', content: [{ type: 'text', text: '  hi \n' }] },
          { role: 'assistant', content: '' },
        ],
      }),
    ).not.toThrow();
  });
});

// Anthropic refuses a tool_use id or tool_result tool_use_id outside ^[a-zA-Z0-9_-]+$ ("messages.1.
// content.0.tool_use.id: String should match pattern ..."); Sluice passed it on, so the same request
// was Anthropic's 400 on an Anthropic route and served on others.
describe('tool ids in an Anthropic Messages request', () => {
  const convo = (id: string, resultId = id) => ({
    ...base,
    messages: [
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: [{ type: 'tool_use', id, name: 'f', input: {} }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: resultId, content: 'ok' }] },
    ],
  });

  it.each([
    ['functions.f:0', 'functions.f:0', 'messages.1.content.0.id'],
    ['t1', 'a b', 'messages.2.content.0.tool_use_id'],
  ])('refuses id %j / result id %j naming %s', (id, resultId, param) => {
    let caught: unknown;
    try {
      anthropicMessages.parse(convo(id, resultId));
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(GatewayError);
    expect((caught as GatewayError).status).toBe(400);
    expect((caught as GatewayError).param).toBe(param);
    expect((caught as GatewayError).message).toContain("String should match pattern '^[a-zA-Z0-9_-]+$'");
  });

  it('takes ids of letters, digits, _ and -', () => {
    expect(() => anthropicMessages.parse(convo('toolu_01A-b_9'))).not.toThrow();
  });
});

// Anthropic refuses an empty or whitespace-only stop sequence ("stop_sequences: each stop sequence must
// contain non-whitespace"); Sluice took it, so ['\n'] was Anthropic's 400 on one route and served by
// Gemini or Bedrock on another.
describe('stop sequences in an Anthropic Messages request', () => {
  it.each([[['']], [['END', '\n']], [[' \t']]])('refuses %j naming stop_sequences', (stops) => {
    let caught: unknown;
    try {
      anthropicMessages.parse({ ...base, stop_sequences: stops });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(GatewayError);
    expect((caught as GatewayError).status).toBe(400);
    expect((caught as GatewayError).param).toBe('stop_sequences');
  });

  it('takes stop sequences with text around whitespace', () => {
    expect(() => anthropicMessages.parse({ ...base, stop_sequences: ['\nEND', ' x '] })).not.toThrow();
  });
});
