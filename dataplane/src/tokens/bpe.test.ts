import { mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type BpeEncodingName,
  countTokens,
  decode,
  decodeBytes,
  encode,
  prefixWithinTokens,
  SPLIT_PATTERNS,
  vocabularySize,
} from './bpe.ts';
import { rankOf, readTiktoken } from './bpe_ranks.ts';

// gpt-tokenizer (which matches OpenAI's tiktoken) is the oracle, loaded only here, in the mode
// counter.ts used it: no special tokens allowed and none disallowed, so lookalikes are plain text.
const load = createRequire(import.meta.url);
type Oracle = { encode(text: string, opts: object): number[] };
const ORACLES: Record<BpeEncodingName, Oracle> = {
  o200k_base: load('gpt-tokenizer/encoding/o200k_base') as Oracle,
  cl100k_base: load('gpt-tokenizer/encoding/cl100k_base') as Oracle,
};
const AS_TEXT = { disallowedSpecial: new Set<string>() };
const NAMES: BpeEncodingName[] = ['o200k_base', 'cl100k_base'];
const oracle = (text: string, name: BpeEncodingName) => ORACLES[name].encode(text, AS_TEXT);

// gpt-tokenizer differs from OpenAI's tiktoken on U+FEFF (a byte order mark: tiktoken has a token for
// its three bytes, gpt-tokenizer splits them). Where it appears, tiktoken itself is the reference.
type Tiktoken = { encode(text: string, allowed: string[], disallowed: string[]): Uint32Array };
const TIKTOKEN = load('tiktoken') as { get_encoding(name: string): Tiktoken };
const TIKTOKENS: Partial<Record<BpeEncodingName, Tiktoken>> = {};
function reference(text: string, name: BpeEncodingName): number[] {
  if (!text.includes('\ufeff')) return oracle(text, name);
  TIKTOKENS[name] ??= TIKTOKEN.get_encoding(name);
  return Array.from(TIKTOKENS[name].encode(text, [], []));
}

const CORPUS = [
  'The gateway routes every request to the right model and counts each token.',
  "I'm sure they'LL say it's DONE; we've, you'RE, she'd, 'S 'Ll 'vE ' s",
  'function limit(n) {\n\treturn n > 42 ? 42 : n; // clamp\n}\n\n\n  const x = a?.b ?? c;\r\n',
  '数据网关按命名空间限制令牌数量。漢字とカタカナ、ひらがなの文章です。한국어 문장도 있습니다.',
  'مرحبا بالعالم، هذه جملة عربية. שלום עולם. Привет, мир! Ελληνικά. हिन्दी भाषा',
  '🎉🚀 emoji, ZWJ 👩‍💻 👨‍👩‍👧‍👦 skin tones 👍🏽👋🏿 flags 🇺🇸🇯🇵 keycap 1️⃣ ❤️‍🔥',
  '1234567890 31415926535 ٣٤٥٦ ①②③ 1,000,000.00 0x7fffffff 1e-9',
  '    \n\n\n   \t\t  \r\n \u00a0\u2003\u3000 trailing spaces   ',
  'say <|endoftext|> and <|im_start|>system<|im_sep|> <|fim_prefix|> <|endofprompt|> literally',
  'lone halves: \ud800 x \udfff y \udc00\ud800 z \ud83d end \ud83d',
  'combining: e\u0301 a\u0308 \u0915\u093f Z\u0351\u0352\u0353 ǅungla ᾈ Ⅻ',
  'a/b/c\n/usr/local/bin// ---- ==== ...... !!!! ???\n\n',
  `${'x'.repeat(300)} ${'ab'.repeat(200)} ${' '.repeat(200)}y${'\n'.repeat(50)}`,
  'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{"a":[1,2,3],"b":null}',
  'ſ \u212a Kelvin, ﬁ ligature, Ǆ title, ß ẞ, İstanbul ı',
  '',
  ' ',
  '\n',
];

describe('split patterns', () => {
  it('are the patterns gpt-tokenizer uses (so an upgrade that changes them fails here)', () => {
    const constants = load('gpt-tokenizer/encodingParams/constants') as Record<string, RegExp>;
    expect(SPLIT_PATTERNS.o200k_base).toBe(constants.O200K_TOKEN_SPLIT_REGEX?.source);
    expect(SPLIT_PATTERNS.cl100k_base).toBe(constants.CL100K_TOKEN_SPLIT_REGEX?.source);
  });
});

describe('rank file reader', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bpe-ranks-'));
  const file = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  // All 256 single bytes (every tiktoken encoding has them), then multi-byte tokens with each padding.
  const singles = Array.from({ length: 256 }, (_, b) => `${Buffer.from([b]).toString('base64')} ${b}`);

  it('reads every padding form, with or without a final newline', () => {
    const extra = ['hello', 'hi', 'abc', '数据'].map(
      (t, i) => `${Buffer.from(t).toString('base64')} ${256 + i}`,
    );
    for (const text of [[...singles, ...extra].join('\n'), `${[...singles, ...extra].join('\n')}\n`]) {
      const t = readTiktoken(file('ok.tiktoken', text));
      expect(t.size).toBe(260);
      expect(t.maxTokenBytes).toBe(6);
      for (const [i, word] of ['hello', 'hi', 'abc', '数据'].entries()) {
        const bytes = Buffer.from(word);
        expect(rankOf(t, bytes, 0, bytes.length)).toBe(256 + i);
      }
      expect(rankOf(t, Buffer.from('nope'), 0, 4)).toBe(-1);
    }
  });

  it('refuses a file whose ranks are not the line numbers, or that lacks a byte', () => {
    const swapped = [...singles.slice(0, 255), `${Buffer.from('x y').toString('base64')} 300`];
    expect(() => readTiktoken(file('bad.tiktoken', swapped.join('\n')))).toThrow(
      expect.objectContaining({ code: 'BPE_RANKS_MALFORMED' }),
    );
    expect(() => readTiktoken(file('short.tiktoken', singles.slice(0, 200).join('\n')))).toThrow(
      expect.objectContaining({ code: 'BPE_RANKS_INCOMPLETE' }),
    );
  });
});

describe.each(NAMES)('%s', (name) => {
  it('has the full vocabulary and every rank holds the same bytes as gpt-tokenizer’s table', () => {
    expect(vocabularySize(name)).toBe(name === 'o200k_base' ? 199_998 : 100_256);
    const ranks = (load(`gpt-tokenizer/bpeRanks/${name}`) as { default: Array<string | number[]> }).default;
    const enc = new TextEncoder();
    let mismatches = 0;
    for (let r = 0; r < vocabularySize(name); r++) {
      const want = ranks[r] as string | number[];
      const wantBytes = typeof want === 'string' ? enc.encode(want) : Uint8Array.from(want);
      if (Buffer.compare(decodeBytes([r], name), wantBytes) !== 0) mismatches++;
    }
    expect(mismatches).toBe(0);
    expect(ranks.length).toBe(vocabularySize(name));
  });

  it.each(CORPUS.map((t, i) => [i, t] as const))('gives gpt-tokenizer’s ids on corpus text %i', (_, text) => {
    expect(encode(text, name)).toEqual(oracle(text, name));
    expect(countTokens(text, name)).toBe(oracle(text, name).length);
  });

  it('gives gpt-tokenizer’s ids on the whole corpus joined, twice (merge cache warm)', () => {
    const text = CORPUS.join('\n');
    expect(encode(text, name)).toEqual(oracle(text, name));
    expect(encode(text, name)).toEqual(oracle(text, name));
  });

  it('follows tiktoken on a byte order mark (U+FEFF), where gpt-tokenizer does not', () => {
    for (const text of ['\ufeff', 'a\ufeff', '\ufeffhello', 'x \ufeff\ufeff y'])
      expect(encode(text, name)).toEqual(reference(text, name));
  });

  it('gives gpt-tokenizer’s ids on arbitrary strings, lone surrogates included', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 80 }), (text) => {
        expect(encode(text, name)).toEqual(reference(text, name));
      }),
      { numRuns: 1500 },
    );
  });

  it('encodes a lone surrogate as U+FFFD, like gpt-tokenizer, for every token holding U+FFFD', () => {
    const strict = new TextDecoder('utf-8', { fatal: true });
    let checked = 0;
    for (let r = 0; r < vocabularySize(name); r++) {
      let text: string;
      try {
        text = strict.decode(decodeBytes([r], name));
      } catch {
        continue; // not whole characters
      }
      if (!text.includes('\ufffd')) continue;
      const lone = text.replaceAll('\ufffd', '\ud800');
      expect(encode(lone, name)).toEqual(oracle(lone, name));
      expect(encode(lone, name)).toEqual([r]);
      checked++;
    }
    expect(checked).toBeGreaterThan(5);
  });

  // Characters at the edges of the split pattern: case changes, marks, contractions, digits next to
  // letters, whitespace kinds, newlines after punctuation, slashes, emoji parts, surrogate halves.
  const TRICKY = [
    ..."aZ Ééǅʰ가中ア\u0301\u093f'sStTlLdDmMvVeErR0١9Ⅻ_-/.,!?\n\r\t \u00a0\u3000",
    '🎉',
    '👩‍💻',
    '🏽',
    '\u200d',
    '\ud83d',
    '\udc00',
    '<|endoftext|>',
  ];
  it('gives gpt-tokenizer’s ids on strings built from a tricky alphabet', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...TRICKY), { maxLength: 60 }), (parts) => {
        const text = parts.join('');
        expect(encode(text, name)).toEqual(oracle(text, name));
      }),
      { numRuns: 1500 },
    );
  });

  it('gives gpt-tokenizer’s ids on long single pieces (the heap merge path)', () => {
    const letters = [...'abcdefghijklmnopqrstuvwxyzéü数据한'];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...letters), { minLength: 40, maxLength: 1500 }), (parts) => {
        const text = parts.join('');
        expect(encode(text, name)).toEqual(oracle(text, name));
      }),
      { numRuns: 60 },
    );
  });

  it('counts a 256 KB single piece in bounded time (no quadratic merge)', () => {
    let s = 'q';
    for (let i = 0; s.length < 256 * 1024; i++) s += 'abcdefghijklmnopqrstuvwxyz'[(i * 7919) % 26];
    const t0 = performance.now();
    const n = countTokens(s, name);
    // Quadratic merging of 256K bytes takes minutes; the heap merge takes well under a second.
    expect(performance.now() - t0).toBeLessThan(5_000);
    expect(n).toBeGreaterThan((256 * 1024) / 16);
    expect(decode(encode(s, name), name)).toBe(s);
  });

  it('decodes ids back to the text (lone surrogates come back as U+FFFD)', () => {
    for (const text of CORPUS) expect(decode(encode(text, name), name)).toBe(text.toWellFormed());
    expect(() => decode([vocabularySize(name)], name)).toThrow(/not in/);
  });

  it('cuts to the longest token-boundary prefix that does not end inside a character', () => {
    // Reference: the old counter.ts method (decode ever shorter token prefixes until one is whole text).
    const strict = new TextDecoder('utf-8', { fatal: true });
    const reference = (text: string, max: number): string => {
      const ids = oracle(text, name);
      if (ids.length <= max) return text;
      for (let n = max; n > 0; n--) {
        try {
          const prefix = strict.decode(decodeBytes(ids.slice(0, n), name));
          if (text.startsWith(prefix)) return prefix;
        } catch {
          // ends inside a character: one token fewer
        }
      }
      return '';
    };
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 60 }), fc.nat(40), (text, max) => {
        expect(prefixWithinTokens(text, max, name)).toBe(reference(text, max));
      }),
      { numRuns: 800 },
    );
    expect(prefixWithinTokens('🎉🎉', 0, name)).toBe('');
  });
});
