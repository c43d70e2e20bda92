// The body guards answer exactly what the obvious (allocating) versions answer: the dot-segment scan
// against a split, the depth check against a recursive walk, also across calls sharing its stack.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkModelName, hasDotSegment, MAX_JSON_DEPTH, nestsDeeperThan } from './request_guards.ts';

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

describe('nestsDeeperThan', () => {
  it('agrees with a recursive depth, call after call', () => {
    const json = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc.constant(1),
        fc.array(tie('node'), { maxLength: 3 }),
        fc.dictionary(fc.string({ maxLength: 2 }), tie('node'), { maxKeys: 3 }),
      ),
    })).node;
    fc.assert(
      fc.property(json, fc.integer({ min: 0, max: 6 }), (v, max) => {
        expect(nestsDeeperThan(v, max)).toBe(depthOf(v) > max);
      }),
      { numRuns: 2000 },
    );
  });

  it('finds a deep branch after a wide body grew the shared stack', () => {
    const wide = Array.from({ length: 5000 }, () => ({ x: [1] }));
    expect(nestsDeeperThan(wide, 3)).toBe(false);
    expect(nestsDeeperThan(wide, 2)).toBe(true);
    expect(nestsDeeperThan(nested(MAX_JSON_DEPTH + 1), MAX_JSON_DEPTH)).toBe(true);
    expect(nestsDeeperThan(nested(MAX_JSON_DEPTH), MAX_JSON_DEPTH)).toBe(false);
    // an early exit leaves no stale entries that a later, shallow body could be judged by
    expect(nestsDeeperThan({ a: 1 }, 1)).toBe(false);
  });
});
