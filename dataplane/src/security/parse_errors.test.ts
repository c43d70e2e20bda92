import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { describeParseError } from './parse_errors.ts';

const SECRET = 'sk-live-0123456789abcdefSECRET';

function errorOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a parse error');
}

describe('describeParseError never quotes the text it could not parse', () => {
  const cases: Array<[string, () => unknown]> = [
    ['a secret file read as JSON', () => JSON.parse(SECRET)],
    ['a secret inside broken JSON', () => JSON.parse(`{"key": ${SECRET}}`)],
    ['an unterminated string', () => JSON.parse(`"${SECRET}`)],
    ['a truncated list', () => JSON.parse(`["${SECRET}"`)],
    ['YAML with the secret on the bad line', () => parseYaml(`token: ${SECRET}: x\n  bad: [`)],
    ['a secret file read as YAML mapping', () => parseYaml(`${SECRET}: a: b`)],
  ];
  for (const [name, fn] of cases) {
    it(name, () => {
      const text = describeParseError(errorOf(fn));
      for (let i = 0; i + 4 <= SECRET.length; i++) expect(text).not.toContain(SECRET.slice(i, i + 4));
      expect(text.length).toBeGreaterThan(5);
    });
  }

  it('keeps where the problem is', () => {
    expect(describeParseError(errorOf(() => JSON.parse('[1,2')))).toBe(
      "Expected ',' or ']' after array element at position 4 (line 1 column 5)",
    );
    expect(describeParseError(errorOf(() => parseYaml('a: b: c')))).toMatch(
      /^BLOCK_AS_IMPLICIT_KEY at line 1, column 4/,
    );
  });
});
