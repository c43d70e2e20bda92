// Cost in micro-USD (USD x 1e6) from model pricing, which is per million tokens: so a token costs
// exactly `pricePerMTok` micro-USD and budgets need no float scaling beyond that.
import type { Pricing, SluiceConfig } from '../config/schema.ts';
import type { Usage } from '../providers/types.ts';
import { upstreamModel } from '../proxy/balancer.ts';
import type { CompiledRoute } from '../runtime/route.ts';

export interface UnitPrices {
  input: number;
  output: number;
}

export function costMicroUsd(usage: Usage, p: Pricing | undefined): number {
  if (!p) return 0;
  const cached = Math.min(usage.cachedInputTokens ?? 0, usage.inputTokens);
  return (
    (usage.inputTokens - cached) * p.inputPerMTok +
    cached * (p.cachedInputPerMTok ?? p.inputPerMTok) +
    usage.outputTokens * p.outputPerMTok
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
