// The one check every upstream usage object passes on its way in (issue 16: trust in accounting).
// A count that is not a non-negative safe integer (negative, fractional, NaN, a string, 1e300) is
// impossible: the whole usage is then treated as not reported, so Sluice counts the tokens itself as
// it does for a server that sends no usage. Taking such numbers would refund a tenant's window
// (negative), or throw from a metric counter mid-answer (a 500 after the upstream answered, or a
// stream that never ends).
import type { Usage } from '../providers/types.ts';

const FIELDS = [
  'inputTokens',
  'outputTokens',
  'cachedInputTokens',
  'cacheCreationInputTokens',
  'reasoningTokens',
] as const;

export function checkedUsage(usage: Usage | undefined): Usage | undefined {
  if (!usage) return undefined;
  for (const f of FIELDS) {
    const v: unknown = usage[f];
    if (v !== undefined && !(typeof v === 'number' && Number.isSafeInteger(v) && v >= 0)) return undefined;
  }
  return usage;
}
