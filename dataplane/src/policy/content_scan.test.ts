// Content filters on long prompts: scanned on the worker with the same result as inline, and tenants
// served in turn (a tenant that queues more while its scan runs goes behind the tenants waiting).
import { describe, expect, it } from 'vitest';
import { compilePattern } from '../compiled/patterns.ts';
import type { ContentFilter } from './compile.ts';
import { firstMatchingFilter, INLINE_SCAN_CHARS } from './content_scan.ts';

const filter = (name: string, pattern: string, flags = ''): ContentFilter => ({
  name,
  re: compilePattern(pattern, flags),
});
const FILTERS = [
  filter('card', '\\b(?:\\d[ -]*?){13,16}\\b'),
  filter('words', '\\b(password|api[_ ]?key)\\b', 'i'),
];
const long = (tail: string) => `${'lorem ipsum '.repeat(Math.ceil(INLINE_SCAN_CHARS / 6))}${tail}`;

describe('content filters on long prompts', () => {
  it('find the same first match on the worker as inline', async () => {
    expect(await firstMatchingFilter('t', FILTERS, long('nothing here'))).toBeUndefined();
    expect((await firstMatchingFilter('t', FILTERS, long('my API_KEY is')))?.name).toBe('words');
    expect((await firstMatchingFilter('t', FILTERS, long('4111 1111 1111 1111 and password')))?.name).toBe(
      'card',
    );
    // short prompts stay inline, same answers
    expect((await firstMatchingFilter('t', FILTERS, 'my Password'))?.name).toBe('words');
  });

  it('serve tenants in turn', async () => {
    const order: string[] = [];
    const scan = (tenant: string, label: string) =>
      firstMatchingFilter(tenant, FILTERS, long('')).then(() => order.push(label));
    // a1 starts at once; a2 and a3 are queued while it runs, b1 after them
    await Promise.all([scan('a', 'a1'), scan('a', 'a2'), scan('a', 'a3'), scan('b', 'b1')]);
    expect(order).toEqual(['a1', 'b1', 'a2', 'a3']);
  });
});
