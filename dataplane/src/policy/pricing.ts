// Cost in micro-USD (USD x 1e6) from model pricing, which is per million tokens: so a token costs
// exactly `pricePerMTok` micro-USD and budgets need no float scaling beyond that.

import type { CompiledRoute } from '../compiled/route.ts';
import type { Pricing, SluiceConfig } from '../config/schema.ts';
import type { Usage } from '../providers/types.ts';
import { upstreamModel } from '../proxy/balancer.ts';

export interface UnitPrices {
  input: number;
  output: number;
}

/** A token count an upstream reported, as a count: negative, NaN or infinite values are 0. */
function count(n: number | undefined): number {
  return typeof n === 'number' && n > 0 && Number.isFinite(n) ? n : 0;
}

/**
 * THE cost of one request's usage, in micro-USD: what a tenant's budget window is charged
 * (policy/admit.ts) and what sluice_cost_usd_total grows by (observability/request_observer.ts, / 1e6). One function so
 * the two never disagree. Usage counts every input token (cached ones included, as OpenAI's
 * prompt_tokens does): cached reads cost `cachedInputPerMTok` (the input price when unset) and are
 * capped at the input count (an OpenAI-compatible server may report more cached than prompt tokens);
 * cache writes have no price of their own and cost the input price. Never negative, never NaN (a
 * counter cannot go down, and a budget must not be refunded by what an upstream claims).
 */
export function costMicroUsd(usage: Usage, p: Pricing | undefined): number {
  if (!p) return 0;
  const input = count(usage.inputTokens);
  const cached = Math.min(count(usage.cachedInputTokens), input);
  return (
    (input - cached) * p.inputPerMTok +
    cached * (p.cachedInputPerMTok ?? p.inputPerMTok) +
    count(usage.outputTokens) * p.outputPerMTok
  );
}

export class PriceBook {
  readonly #prices = new Map<string, Pricing>();

  constructor(cfg: SluiceConfig) {
    for (const p of cfg.providers)
      for (const m of p.models) if (m.pricing) this.#prices.set(`${p.name}\u0000${m.name}`, m.pricing);
  }

  price(provider: string, model: string): Pricing | undefined {
    return this.#prices.get(`${provider}\u0000${model}`);
  }

  /**
   * What to reserve before knowing which backend answers: the highest input and output price among
   * every backend and fallback the route may use for this model, so a fallback can never overspend.
   * undefined when none of them has pricing.
   */
  reservePrices(route: CompiledRoute, model: string): UnitPrices | undefined {
    let found: UnitPrices | undefined;
    for (const b of [...route.balancer.backends, ...route.fallback]) {
      const p = this.price(b.provider.name, upstreamModel(b, model));
      if (!p) continue;
      found = {
        input: Math.max(found?.input ?? 0, p.inputPerMTok),
        output: Math.max(found?.output ?? 0, p.outputPerMTok),
      };
    }
    return found;
  }
}
