// costMicroUsd is the one cost function: the budget settlement and the sluice_cost_usd_total metric
// both call it (test/lifecycle/cost.test.ts checks they agree through a dataplane). These pin its rules.
import { describe, expect, it } from 'vitest';
import type { Usage } from '../providers/types.ts';
import { costMicroUsd } from './pricing.ts';

const priced = { inputPerMTok: 2, cachedInputPerMTok: 0.5, outputPerMTok: 8 };

describe('costMicroUsd', () => {
  it('charges uncached input, cached input and output at their prices', () => {
    // 60 x 2 + 40 x 0.5 + 20 x 8
    expect(costMicroUsd({ inputTokens: 100, cachedInputTokens: 40, outputTokens: 20 }, priced)).toBe(300);
  });

  it('caps cached tokens at the input count (a compatible server may report more)', () => {
    // 100 x 0.5 + 20 x 8: not 100 x 2 - 400 x 1.5 (negative), which a counter cannot take
    expect(costMicroUsd({ inputTokens: 100, cachedInputTokens: 500, outputTokens: 20 }, priced)).toBe(210);
  });

  it('charges cache writes at the input price, once (they are part of the input count)', () => {
    const usage: Usage = {
      inputTokens: 130,
      cachedInputTokens: 100,
      cacheCreationInputTokens: 20,
      outputTokens: 3,
    };
    // 30 uncached (10 plain + 20 written) x 3 + 100 read x 0.3 + 3 x 15
    expect(costMicroUsd(usage, { inputPerMTok: 3, cachedInputPerMTok: 0.3, outputPerMTok: 15 })).toBeCloseTo(
      165,
      9,
    );
  });

  it('without a cached price, cached input costs the input price', () => {
    const usage = { inputTokens: 100, cachedInputTokens: 40, outputTokens: 5 };
    expect(costMicroUsd(usage, { inputPerMTok: 5, outputPerMTok: 20 })).toBe(600);
  });

  it('is never negative or NaN, whatever an upstream reports', () => {
    const bad: Usage[] = [
      { inputTokens: -100, outputTokens: -5 },
      { inputTokens: Number.NaN, outputTokens: 5, cachedInputTokens: Number.NaN },
      { inputTokens: 10, outputTokens: Number.POSITIVE_INFINITY },
      { inputTokens: 10, outputTokens: 0, cachedInputTokens: -50 },
    ];
    for (const u of bad) {
      const c = costMicroUsd(u, priced);
      expect(Number.isFinite(c) && c >= 0, JSON.stringify(u)).toBe(true);
    }
    // a negative cached count does not make the rest cheaper or dearer: 10 uncached x 2
    expect(costMicroUsd({ inputTokens: 10, outputTokens: 0, cachedInputTokens: -50 }, priced)).toBe(20);
  });

  it('is 0 without pricing', () => {
    expect(costMicroUsd({ inputTokens: 100, outputTokens: 100 }, undefined)).toBe(0);
  });
});
