// What each API's non-message input is counted as (docs/policies.md "What is counted").
import { describe, expect, it } from 'vitest';
import { encode } from '../tokens/bpe.ts';
import {
  ANTHROPIC_IMAGE_TOKENS,
  IMAGE_TOKENS_HIGH,
  IMAGE_TOKENS_LOW,
  nonTextTokens,
  tokenArrayText,
  tokenArrayTokens,
  toolCallsText,
  toolDefinitionsText,
} from './prompt_extras.ts';

describe('tool text', () => {
  it('takes name, description and schema from OpenAI, legacy functions and Anthropic tools', () => {
    const schema = { type: 'object', properties: { city: { type: 'string' } } };
    const openai = toolDefinitionsText({
      tools: [{ type: 'function', function: { name: 'weather', description: 'Get it', parameters: schema } }],
      functions: [{ name: 'legacy', description: 'Old style', parameters: schema }],
    });
    expect(openai).toContain('weather');
    expect(openai).toContain('Get it');
    expect(openai).toContain('"city"');
    expect(openai).toContain('Old style');
    const anthropic = toolDefinitionsText({
      tools: [{ name: 'weather', description: 'D', input_schema: schema }],
    });
    expect(anthropic).toContain('"city"');
    expect(toolDefinitionsText({ tools: 'not a list' })).toBe('');
  });

  it('takes earlier tool calls (names and arguments) from assistant messages', () => {
    const text = toolCallsText([
      { role: 'user', content: 'x' },
      {
        role: 'assistant',
        tool_calls: [{ id: '1', type: 'function', function: { name: 'save', arguments: '{"k":1}' } }],
      },
      { role: 'assistant', function_call: { name: 'old', arguments: '{"j":2}' } },
    ]);
    expect(text).toContain('save {"k":1}');
    expect(text).toContain('old {"j":2}');
  });
});

describe('parts that are not text', () => {
  it('estimates images by API and detail, and audio and files by size', () => {
    const url = { url: 'data:image/png;base64,AAAA' };
    expect(
      nonTextTokens({
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'hi' },
              { type: 'image_url', image_url: url },
              { type: 'image_url', image_url: { ...url, detail: 'low' } },
            ],
          },
        ],
      }),
    ).toBe(IMAGE_TOKENS_HIGH + IMAGE_TOKENS_LOW);
    // Anthropic: images in messages and inside tool results
    expect(
      nonTextTokens({
        messages: [
          { role: 'user', content: [{ type: 'image', source: {} }] },
          { role: 'user', content: [{ type: 'tool_result', content: [{ type: 'image', source: {} }] }] },
        ],
      }),
    ).toBe(2 * ANTHROPIC_IMAGE_TOKENS);
    // Responses API input items
    expect(
      nonTextTokens({
        input: [{ role: 'user', content: [{ type: 'input_image', detail: 'low', image_url: 'x' }] }],
      }),
    ).toBe(IMAGE_TOKENS_LOW);
    const audio = 'A'.repeat(20_000);
    expect(
      nonTextTokens({
        messages: [
          { role: 'user', content: [{ type: 'input_audio', input_audio: { data: audio, format: 'mp3' } }] },
        ],
      }),
    ).toBe(100);
    expect(nonTextTokens({ messages: [{ role: 'user', content: 'plain text only' }] })).toBe(0);
  });
});

describe('embeddings token arrays', () => {
  it('count one token per id, flat or nested, and decode to text for filters', () => {
    expect(tokenArrayTokens([1, 2, 3])).toBe(3);
    expect(tokenArrayTokens([[1, 2], [3], []])).toBe(3);
    expect(tokenArrayTokens('a string')).toBe(0);
    const ids = encode('hello private world', 'cl100k_base');
    expect(tokenArrayText(ids)).toBe('hello private world');
    expect(tokenArrayText([ids, ids])).toBe('hello private world\nhello private world');
    // ids no encoding has (or not integers): counted, but no text
    expect(tokenArrayText([-1, 1.5])).toBe('');
  });
});
