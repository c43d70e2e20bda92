// OpenAI chat client -> Anthropic backend: what OpenAI takes and Anthropic refuses (blank text, a
// prefill ending in whitespace, foreign tool call ids, whitespace-only stop sequences). Each request is
// run through the fake Anthropic server's validator, which follows the documented API independently.
import { describe, expect, it } from 'vitest';
import { validateAnthropicRequest } from '../../../../test/fakes/anthropic_validate.ts';
import { ctxFor, rejection } from '../../../../test/providers/anthropic_helpers.ts';
import { openaiToAnthropic } from './openai_to_anthropic.ts';

async function toAnthropic(body: Record<string, unknown>) {
  const req = await openaiToAnthropic.buildRequest(structuredClone(body), ctxFor('anthropic', 'openai-chat'));
  return { req, sent: JSON.parse(String(req.body)) as Record<string, unknown> };
}

function acceptedByAnthropic(headers: Record<string, string>, body: string): void {
  expect(
    validateAnthropicRequest(headers, body, { apiKey: 'k-123', versions: new Set(['2023-06-01']) }),
  ).toBeUndefined();
}

// Anthropic refuses a text block that is empty or only whitespace ("text content blocks must contain
// non-whitespace text") and a final assistant message that ends in whitespace; OpenAI takes both, and
// OpenAI clients routinely send content "" beside tool_calls. A blank text part carries nothing, so it
// is left out (as for Bedrock); a conversation left with nothing is the client's 400.
describe('blank text for Anthropic', () => {
  const call = { id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } };
  const tools = [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }];

  it('leaves out whitespace-only text parts, messages and tool results, and sends what Anthropic takes', async () => {
    const { req, sent } = await toAnthropic({
      model: 'm',
      tools,
      messages: [
        { role: 'system', content: ' \n ' },
        {
          role: 'user',
          content: [
            { type: 'text', text: '  ' },
            { type: 'text', text: 'hi' },
          ],
        },
        { role: 'assistant', content: ' ', tool_calls: [call] },
        { role: 'tool', tool_call_id: 'c1', content: '\t' },
        { role: 'user', content: '   ' },
        { role: 'assistant', content: '', tool_calls: [{ ...call, id: 'c2' }] },
        { role: 'tool', tool_call_id: 'c2', content: 'ok' },
      ],
    });
    expect(sent.system).toBeUndefined();
    expect(sent.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'hi' }] },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'c1', name: 'f', input: {} }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'c1' }] },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'c2', name: 'f', input: {} }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'c2', content: 'ok' }] },
    ]);
    acceptedByAnthropic(req.headers, String(req.body));
  });

  it('sends a final assistant message without its trailing whitespace (a prefill may not end in it)', async () => {
    for (const content of ['Sure, ', [{ type: 'text', text: 'Sure,\n' }]]) {
      const { req, sent } = await toAnthropic({
        model: 'm',
        messages: [
          { role: 'user', content: 'hi' },
          { role: 'assistant', content },
        ],
      });
      expect((sent.messages as Array<{ content: unknown }>)[1]?.content).toEqual([
        { type: 'text', text: 'Sure,' },
      ]);
      acceptedByAnthropic(req.headers, String(req.body));
    }
  });

  it('keeps whitespace inside and at the end of earlier messages', async () => {
    const { req, sent } = await toAnthropic({
      model: 'm',
      messages: [
        { role: 'user', content: '  indented\n' },
        { role: 'assistant', content: 'ok ' },
        { role: 'user', content: 'go' },
      ],
    });
    const texts = (sent.messages as Array<{ content: Array<{ text: string }> }>).map(
      (m) => m.content[0]?.text,
    );
    expect(texts).toEqual(['  indented\n', 'ok ', 'go']);
    acceptedByAnthropic(req.headers, String(req.body));
  });

  it('is the client 400 when nothing but blank text is left', async () => {
    const err = await rejection(
      toAnthropic({
        model: 'm',
        messages: [
          { role: 'user', content: ' ' },
          { role: 'assistant', content: [{ type: 'text', text: '\n' }] },
        ],
      }),
    );
    expect(err.status).toBe(400);
    expect(err.code).toBe('SLUICE_ERR_INVALID_REQUEST');
    expect(err.param).toBe('messages');
  });

  // Left out, a blank last user turn would leave the assistant's message last: Anthropic continues
  // it as a prefill instead of answering, a different request than the client sent.
  it('is the client 400 when the blank message is the last user turn after an assistant message', async () => {
    for (const blankTurn of ['  ', [{ type: 'text', text: '\n' }], '']) {
      const err = await rejection(
        toAnthropic({
          model: 'm',
          messages: [
            { role: 'system', content: 'be brief' },
            { role: 'user', content: 'hi' },
            { role: 'assistant', content: 'hello' },
            { role: 'user', content: blankTurn },
            { role: 'system', content: 'a system message after it changes nothing' },
          ],
        }),
      );
      expect(err.status).toBe(400);
      expect(err.code).toBe('SLUICE_ERR_INVALID_REQUEST');
      expect(err.param).toBe('messages[3].content');
    }
    // a final assistant message the client sent itself stays a prefill
    const { req } = await toAnthropic({
      model: 'm',
      messages: [
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: 'Sure' },
      ],
    });
    acceptedByAnthropic(req.headers, String(req.body));
  });
});

// Anthropic refuses a tool_use id (and a tool_result's tool_use_id) outside ^[a-zA-Z0-9_-]+$
// ("messages.1.content.0.tool_use.id: String should match pattern ..."). OpenAI takes any string, and
// other backends mint such ids (Kimi's 'functions.get_weather:0'), so a conversation replayed to
// Anthropic after a fallback or a model switch was refused. Ids only pair calls with results inside
// one request, so they are mapped, the same way on both sides.
describe('tool call ids Anthropic refuses', () => {
  it('are mapped to ids it takes, keeping each call paired with its result and ids apart', async () => {
    const call = (id: string) => ({ id, type: 'function', function: { name: 'f', arguments: '{}' } });
    const { req, sent } = await toAnthropic({
      model: 'm',
      tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }],
      messages: [
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: null, tool_calls: [call('functions.f:0'), call('functions.f_0')] },
        { role: 'tool', tool_call_id: 'functions.f:0', content: 'a' },
        { role: 'tool', tool_call_id: 'functions.f_0', content: 'b' },
        { role: 'assistant', content: null, tool_calls: [call('call_ok-1'), call('a b/ü')] },
        { role: 'tool', tool_call_id: 'call_ok-1', content: 'c' },
        { role: 'tool', tool_call_id: 'a b/ü', content: 'd' },
      ],
    });
    acceptedByAnthropic(req.headers, String(req.body));
    const blocks = (sent.messages as Array<{ content: Array<Record<string, string>> }>).map((m) => m.content);
    const uses = [...(blocks[1] ?? []), ...(blocks[3] ?? [])].map((b) => b.id);
    const results = [...(blocks[2] ?? []), ...(blocks[4] ?? [])].map((b) => b.tool_use_id);
    expect(results).toEqual(uses);
    // an id Anthropic takes is sent as it is; mapped ones do not collide with it or each other
    expect(uses[2]).toBe('call_ok-1');
    expect(new Set(uses).size).toBe(4);
  });
});

// Anthropic refuses an empty or whitespace-only stop sequence; the translator leaves those out (see
// docs/providers-anthropic.md), and the fake now refuses them as the API does.
describe('stop sequences for Anthropic', () => {
  it('the fake refuses a whitespace-only one; the translator sends only the others', async () => {
    const body = (stops: string[]) =>
      JSON.stringify({
        model: 'm',
        max_tokens: 5,
        messages: [{ role: 'user', content: 'x' }],
        stop_sequences: stops,
      });
    const headers = {
      'x-api-key': 'k-123',
      'anthropic-version': '2023-06-01',
      'content-type': 'application/json',
    };
    const check = { apiKey: 'k-123', versions: new Set(['2023-06-01']) };
    expect(validateAnthropicRequest(headers, body(['\n']), check)?.message).toBe(
      'stop_sequences: each stop sequence must contain non-whitespace',
    );
    expect(validateAnthropicRequest(headers, body(['']), check)?.status).toBe(400);
    const { req, sent } = await toAnthropic({
      model: 'm',
      messages: [{ role: 'user', content: 'x' }],
      stop: ['\n', 'END'],
    });
    expect(sent.stop_sequences).toEqual(['END']);
    acceptedByAnthropic(req.headers, String(req.body));
  });
});

// A whole answer is cut at an enforced stop in the order the model wrote its blocks, as the stream is
// cut: a tool call before the sequence stays, text and calls after it go; a sequence spans adjacent
// text blocks but not a tool call (the stream releases held text when a tool call starts).
describe('a whole answer cut at an enforced stop', () => {
  async function answer(content: unknown[]) {
    const ctx = ctxFor('anthropic', 'openai-chat');
    await openaiToAnthropic.buildRequest(
      { model: 'm', messages: [{ role: 'user', content: 'x' }], stop: ['\n\n'] },
      ctx,
    );
    const msg = {
      id: 'msg_1',
      type: 'message',
      role: 'assistant',
      model: 'm',
      content,
      stop_reason: 'tool_use',
      stop_sequence: null,
      usage: { input_tokens: 3, output_tokens: 9 },
    };
    const out = openaiToAnthropic.parseResponse(Buffer.from(JSON.stringify(msg)), ctx);
    const body = JSON.parse(String(out.body)) as {
      choices: Array<{
        message: { content: string | null; tool_calls?: Array<{ id: string }> };
        finish_reason: string;
      }>;
    };
    const c = body.choices[0];
    return {
      content: c?.message.content,
      calls: c?.message.tool_calls?.map((t) => t.id),
      finish: c?.finish_reason,
      out,
    };
  }
  const tool = (id: string) => ({ type: 'tool_use', id, name: 'f', input: {} });

  it('keeps the calls made before the sequence and drops what follows it', async () => {
    const r = await answer([
      { type: 'text', text: 'a' },
      tool('toolu_1'),
      { type: 'text', text: 'b\n' },
      { type: 'text', text: '\nc' },
      tool('toolu_2'),
    ]);
    expect(r).toMatchObject({ content: 'ab', calls: ['toolu_1'], finish: 'stop' });
    expect(r.out.usage).toMatchObject({ inputTokens: 3, outputTokens: 9 });
  });

  it('a sequence split by a tool call is no sequence', async () => {
    const r = await answer([{ type: 'text', text: 'a\n' }, tool('toolu_1'), { type: 'text', text: '\nb' }]);
    expect(r).toMatchObject({ content: 'a\n\nb', calls: ['toolu_1'], finish: 'tool_calls' });
  });
});
