// The body guards answer exactly what the obvious (allocating) versions answer: the dot-segment scan
// against a split, the depth scan of the text against a recursive walk of the parsed value.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkJsonDepth,
  checkModelName,
  hasDotSegment,
  jsonNestsDeeperThan,
  MAX_JSON_DEPTH,
} from './request_guards.ts';

const splitDotSegment = (s: string) => s.split(/[/\\]/).some((seg) => seg === '.' || seg === '..');

function depthOf(v: unknown): number {
  if (typeof v !== 'object' || v === null) return 0;
  let d = 0;
  for (const k in v) d = Math.max(d, depthOf((v as Record<string, unknown>)[k]));
  return d + 1;
}

function nested(depth: number): unknown {
  let v: unknown = 'leaf';
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { a: v };
  return v;
}

describe('hasDotSegment', () => {
  it('agrees with splitting on / and \\', () => {
    const piece = fc.constantFrom('.', '..', '...', '/', '\\', 'a', 'gpt-4.1', '');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 8 }), (parts) => {
        const s = parts.join('');
        expect(hasDotSegment(s)).toBe(splitDotSegment(s));
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses path segments in model names and keeps dotted names', () => {
    for (const bad of ['..', '.', 'a/../b', 'x\\.\\y', 'm/.'])
      expect(() => checkModelName(bad)).toThrow(/path segments/);
    for (const ok of ['gpt-4.1', 'claude-3.5-sonnet', 'org/model.v2', '...'])
      expect(() => checkModelName(ok)).not.toThrow();
  });
});

describe('jsonNestsDeeperThan', () => {
  it('agrees with a recursive depth of the parsed value, compact or indented', () => {
    // keys and strings full of brackets, quotes and backslashes: none of them may count
    const tricky = fc.string({
      unit: fc.constantFrom('[', ']', '{', '}', '"', '\\', 'a', ' '),
      maxLength: 4,
    });
    const json = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc.constant(1),
        tricky,
        fc.array(tie('node'), { maxLength: 3 }),
        fc.dictionary(tricky, tie('node'), { maxKeys: 3 }),
      ),
    })).node;
    fc.assert(
      fc.property(json, fc.integer({ min: 0, max: 6 }), fc.boolean(), (v, max, indent) => {
        const text = indent ? JSON.stringify(v, null, 2) : JSON.stringify(v);
        expect(jsonNestsDeeperThan(text, max)).toBe(depthOf(v) > max);
      }),
      { numRuns: 3000 },
    );
  });

  it('draws the line at MAX_JSON_DEPTH and reads 200,000 levels in one pass', () => {
    expect(jsonNestsDeeperThan(JSON.stringify(nested(MAX_JSON_DEPTH + 1)), MAX_JSON_DEPTH)).toBe(true);
    expect(jsonNestsDeeperThan(JSON.stringify(nested(MAX_JSON_DEPTH)), MAX_JSON_DEPTH)).toBe(false);
    const deep = `${'['.repeat(200_000)}1${']'.repeat(200_000)}`;
    expect(jsonNestsDeeperThan(deep, MAX_JSON_DEPTH)).toBe(true);
    expect(() => checkJsonDepth(deep)).toThrow(/deeper than 128 levels/);
    // a wide body is not a deep one
    expect(jsonNestsDeeperThan(JSON.stringify(Array.from({ length: 5000 }, () => ({ x: [1] }))), 3)).toBe(
      false,
    );
  });
});
