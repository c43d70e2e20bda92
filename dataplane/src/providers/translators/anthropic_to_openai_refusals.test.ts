// Anthropic client -> OpenAI-compatible backend: what an Anthropic client may send and OpenAI refuses.
// Anthropic takes many stop sequences, OpenAI and Azure at most 4: a fifth went upstream and came back
// as OpenAI's refusal in OpenAI's words. Bodies are checked with the fake OpenAI server's validator.
import { describe, expect, it } from 'vitest';
import { validateOpenAIRequest } from '../../../../test/fakes/openai.ts';
import { ctxFor, rejection } from '../../../../test/providers/anthropic_helpers.ts';
import { anthropicToOpenAI } from './anthropic_to_openai.ts';

const body = (stops: string[]) => ({
  model: 'claude-up',
  max_tokens: 100,
  stop_sequences: stops,
  messages: [{ role: 'user', content: 'count to ten' }],
});
const sent = (b: Record<string, unknown>) => ({
  method: 'POST',
  path: '/v1/chat/completions',
  headers: {},
  body: b,
  aborted: false,
});

describe('stop sequences beyond what the provider takes', () => {
  const five = ['1', '2', '3', '4', '5'];

  it('the fake refuses a fifth stop sequence the way OpenAI does', () => {
    expect(
      validateOpenAIRequest(
        sent({ model: 'm', messages: [{ role: 'user', content: 'x' }], stop: five }),
        undefined,
      ),
    ).toContain("Invalid 'stop': array too long");
  });

  it("is Sluice's 400 naming stop_sequences for OpenAI and Azure", async () => {
    for (const type of ['openai', 'azure-openai']) {
      const err = await rejection(() =>
        anthropicToOpenAI.buildRequest(body(five), ctxFor(type, 'anthropic-messages')),
      );
      expect(err.status, type).toBe(400);
      expect(err.code, type).toBe('SLUICE_ERR_UNSUPPORTED_FEATURE');
      expect(err.param, type).toBe('stop_sequences');
      expect(err.message, type).toContain('more than 4 stop sequences');
    }
  });

  it('sends four as they are, and more to compatible servers that take them', async () => {
    const four = await anthropicToOpenAI.buildRequest(
      body(five.slice(0, 4)),
      ctxFor('openai', 'anthropic-messages'),
    );
    const fourBody = JSON.parse(String(four.body)) as Record<string, unknown>;
    expect(fourBody.stop).toEqual(['1', '2', '3', '4']);
    expect(validateOpenAIRequest(sent(fourBody), undefined)).toBeUndefined();
    const vllm = await anthropicToOpenAI.buildRequest(body(five), ctxFor('vllm', 'anthropic-messages'));
    expect(JSON.parse(String(vllm.body)).stop).toEqual(five);
  });
});

// Anthropic takes tool names of up to 128 characters, OpenAI and Azure 64: a longer one went upstream
// and came back as OpenAI's refusal (`Invalid 'tools[0].function.name': string too long`).
describe('tool names longer than the provider takes', () => {
  const withTool = (name: string) => ({
    model: 'claude-up',
    max_tokens: 100,
    messages: [{ role: 'user', content: 'weather?' }],
    tools: [
      { name: 'ok_tool', input_schema: { type: 'object' } },
      { name, input_schema: { type: 'object' } },
    ],
  });
  const long = 'x'.repeat(100);

  it('the fake refuses a 65-character function name the way OpenAI does', () => {
    const fn = (name: string) => ({ type: 'function', function: { name, parameters: { type: 'object' } } });
    const base = { model: 'm', messages: [{ role: 'user', content: 'x' }] };
    expect(validateOpenAIRequest(sent({ ...base, tools: [fn('a'.repeat(65))] }), undefined)).toContain(
      "Invalid 'tools[0].function.name': string too long",
    );
    expect(validateOpenAIRequest(sent({ ...base, tools: [fn('a'.repeat(64))] }), undefined)).toBeUndefined();
  });

  it("is Sluice's 400 naming tools[i].name for OpenAI and Azure", async () => {
    for (const type of ['openai', 'azure-openai']) {
      const err = await rejection(() =>
        anthropicToOpenAI.buildRequest(withTool(long), ctxFor(type, 'anthropic-messages')),
      );
      expect(err.status, type).toBe(400);
      expect(err.code, type).toBe('SLUICE_ERR_UNSUPPORTED_FEATURE');
      expect(err.param, type).toBe('tools[1].name');
    }
  });

  it('sends 64 characters to OpenAI, and longer names to servers that take them', async () => {
    const ok = await anthropicToOpenAI.buildRequest(
      withTool('y'.repeat(64)),
      ctxFor('openai', 'anthropic-messages'),
    );
    expect(validateOpenAIRequest(sent(JSON.parse(String(ok.body))), undefined)).toBeUndefined();
    const vllm = await anthropicToOpenAI.buildRequest(withTool(long), ctxFor('vllm', 'anthropic-messages'));
    expect(JSON.parse(String(vllm.body)).tools[1].function.name).toBe(long);
  });
});
