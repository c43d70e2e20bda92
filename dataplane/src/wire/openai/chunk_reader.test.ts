// The chunk scanner and reader accept the plain delta chunks of real streams and refuse (so the full
// parse decides) every chunk whose meaning they do not fully read. The exhaustive check against the
// full parse is the property test in providers/translators/openai_to_openai_stream.test.ts; these cases
// name the shapes that matter.
import { describe, expect, it } from 'vitest';
import { ChunkReader } from './chunk_reader.ts';
import { ChunkScanner, stringEnd } from './chunk_scan.ts';

const head = '"id":"chatcmpl-1","object":"chat.completion.chunk","created":1760000000,"model":"gpt-4o"';
const frame = (delta: string, more = '') =>
  `{${head},"choices":[{"index":0,"delta":${delta},"logprobs":null,"finish_reason":null}]${more}}`;

function scan(data: string): ChunkScanner | undefined {
  const sc = new ChunkScanner();
  return sc.scan(data, 0, data.length) ? sc : undefined;
}

describe('ChunkScanner', () => {
  it('reads id, model, created and the text of the chunks real servers send', () => {
    const sc = scan(frame('{"content":"Hi"}', ',"usage":null,"obfuscation":"aB3"'));
    expect(sc).toMatchObject({ id: 'chatcmpl-1', model: 'gpt-4o', created: 1760000000, text: 'Hi' });
    expect(scan(frame('{"role":"assistant","content":"","refusal":null}'))?.text).toBe('');
    // DeepSeek's reasoning, the legacy completions `text`, vLLM's stop_reason
    expect(scan(frame('{"content":null,"reasoning_content":"think"}'))?.text).toBe('think');
    expect(scan(frame('{"content":"a","reasoning_content":"b"}'))?.text).toBe('ab');
    expect(scan(`{${head},"choices":[{"index":0,"text":"old","finish_reason":null}]}`)?.text).toBe('old');
    expect(scan(frame('{"content":"x"}').replace('"logprobs"', '"stop_reason":null,"logprobs"'))?.text).toBe(
      'x',
    );
    // Python's json.dumps spacing
    expect(
      scan('{"id": "c", "choices": [{"index": 0, "delta": {"content": "sp"}}], "usage": null}')?.text,
    ).toBe('sp');
  });

  it('decodes escapes and is not fooled by JSON inside the text', () => {
    const tricky = 'say "usage":{"prompt_tokens":1}, "finish_reason":"stop" }]} \\ é 😀\n';
    expect(scan(frame(`{"content":${JSON.stringify(tricky)}}`))?.text).toBe(tricky);
    expect(scan(frame('{"content":"caf\\u00e9 \\ud83d\\ude00 \\/"}'))?.text).toBe('café 😀 /');
  });

  it.each([
    ['usage', frame('{"content":"x"}', ',"usage":{"prompt_tokens":1,"completion_tokens":1}')],
    ['usage in the choice', frame('{"content":"x"}').replace('"logprobs"', '"usage":{},"logprobs"')],
    ['an error, even null', frame('{"content":"x"}', ',"error":null')],
    ['a finish_reason', frame('{}').replace('"finish_reason":null', '"finish_reason":"stop"')],
    ['tool calls', frame('{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]}')],
    ['two choices', `{"choices":[{"delta":{"content":"a"}},{"delta":{"content":"b"}}]}`],
    ['logprobs', frame('{"content":"x"}').replace('"logprobs":null', '"logprobs":{"content":[]}')],
    ['an unknown nested value', frame('{"content":"x"}', ',"extra":{"a":1}')],
    ['a key spelled with an escape', frame('{"cont\\u0065nt":"x"}')],
    ['a duplicate key it reads', frame('{"content":"x","content":"y"}')],
    ['a duplicate choices', frame('{"content":"x"}', ',"choices":[]')],
    ['content that is not a string', frame('{"content":5}')],
    ['a null delta', frame('null')],
    ['a raw control character', frame('{"content":"a\u0001b"}')],
    ['a bad escape', frame('{"content":"a\\xb"}')],
    ['a short \\u escape', frame('{"content":"a\\u12"}')],
    ['an unterminated string', '{"choices":[{"delta":{"content":"abc}]}'],
    ['trailing text', `${frame('{"content":"x"}')}x`],
    ['a tab between tokens', frame('{"content":"x"}').replace(',"model"', ',\t"model"')],
    ['a bad number', frame('{"content":"x"}').replace('1760000000', '01')],
    ['not an object', '[DONE]'],
  ])('refuses %s', (_, data) => {
    expect(scan(data)).toBeUndefined();
  });
});

describe('stringEnd', () => {
  it('finds the closing quote past escaped ones, and tells whether there were escapes', () => {
    expect(stringEnd('"ab"', 0, 4)).toBe(3);
    expect(stringEnd('"a\\"b"', 0, 6)).toBe(~5);
    expect(stringEnd('"a\\\\"b', 0, 6)).toBe(~4);
    expect(stringEnd('"abc"', 0, 4)).toBe(-1); // the closing quote lies past the end
    expect(stringEnd('"a\\', 0, 3)).toBe(-1);
  });
});

describe('ChunkReader', () => {
  it('reads the next chunks of a stream against the previous one, pads and escapes included', () => {
    const r = new ChunkReader();
    const texts = ['Hel', 'lo', ' "usage":{}', '\n\\', 'é😀', ''];
    for (const [i, t] of texts.entries()) {
      const data = frame(
        `{"content":${JSON.stringify(t)}}`,
        `,"usage":null,"obfuscation":"${'x'.repeat(i)}"`,
      );
      expect(r.read(data, 0, data.length)).toBe(true);
      expect(r.text).toBe(t);
      expect([r.id, r.model, r.created]).toEqual(['chatcmpl-1', 'gpt-4o', 1760000000]);
    }
  });

  it('reads a frame inside its raw SSE text', () => {
    const r = new ChunkReader();
    for (const t of ['one', 'two']) {
      const raw = `data: ${frame(`{"content":"${t}"}`)}\n\n`;
      expect(r.read(raw, 6, raw.length - 2)).toBe(true);
      expect(r.text).toBe(t);
    }
    // the same text with something after the JSON is not a chunk
    const raw = `data: ${frame('{"content":"x"}')}}\n\n`;
    expect(r.read(raw, 6, raw.length - 2)).toBe(false);
  });

  it('gives up the template when a chunk differs, and refuses what the scanner refuses', () => {
    const r = new ChunkReader();
    const a = frame('{"content":"a"}');
    expect(r.read(a, 0, a.length)).toBe(true);
    const other = frame('{"content":"b"}').replace('gpt-4o', 'gpt-4o-2024');
    expect(r.read(other, 0, other.length)).toBe(true);
    expect(r.model).toBe('gpt-4o-2024');
    for (const bad of [
      frame('{"content":"c"}').replace('gpt-4o', 'gpt-4o-2024').replace('"c"', '"c\u0002"'),
      frame('{"content":"c"}').replace('gpt-4o', 'gpt-4o-2024').replace('"c"', '"c\\q"'),
      frame('{"content":"c"}', ',"usage":{"prompt_tokens":1}'),
    ]) {
      expect(r.read(bad, 0, bad.length)).toBe(false);
    }
  });

  it('turns every string into a hole when a server varies one the template keeps fixed', () => {
    const r = new ChunkReader();
    for (let i = 0; i < 10; i++) {
      const data = frame(`{"content":"t${i}"}`).replace('chat.completion.chunk', `kind-${i}`);
      expect(r.read(data, 0, data.length)).toBe(true);
      expect(r.text).toBe(`t${i}`);
    }
  });
});
