// The one check every upstream usage object passes on its way in (issue 16: trust in accounting).
// A count that is not a non-negative integer up to MAX_TOKENS (negative, fractional, NaN, a string,
// 1e300, 2^53) is impossible: the whole usage is then treated as not reported, so Sluice counts the
// tokens itself as it does for a server that sends no usage. Taking such numbers would refund a
// tenant's window (negative), exhaust it for the whole window with one answer (absurd), or throw from
// a metric counter mid-answer (a 500 after the upstream answered, or a stream that never ends).
// Converters that add wire counts together (input = uncached + cache reads + writes) pass the wire
// counts too: -100 + 150 is a plausible 50, so the sum alone would hide the impossible one.
import type { Usage } from '../providers/types.ts';

const FIELDS = [
  'inputTokens',
  'outputTokens',
  'cachedInputTokens',
  'cacheCreationInputTokens',
  'reasoningTokens',
] as const;

/**
 * A thousand times the largest context window offered today: no single answer comes near it, and a
 * count past it would wipe a tenant's budget for the whole window.
 */
export const MAX_TOKENS = 1_000_000_000;

const isCount = (v: unknown): boolean =>
  typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= MAX_TOKENS;

/**
 * `usage`, or undefined when any of its counts is impossible. `wire`: the provider's own counts it was
 * added up from; each must be absent (undefined or null, as Anthropic reports a cache count it has
 * none of) or a count itself.
 */
export function checkedUsage(usage: Usage | undefined, wire: readonly unknown[] = []): Usage | undefined {
  if (!usage) return undefined;
  for (const f of FIELDS) {
    const v: unknown = usage[f];
    if (v !== undefined && !isCount(v)) return undefined;
  }
  for (const v of wire) if (v !== undefined && v !== null && !isCount(v)) return undefined;
  return usage;
}
