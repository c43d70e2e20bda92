// Backend ordering per strategy. `order` returns every backend of the route, best first: the first is
// the pick, the rest are what retries move on to; the route's fallback chain follows in its own order.
// State (round-robin position, outstanding counts, latency EWMA) lives on the route and provider
// runtimes, so it survives across requests but a config reload starts from the new weights.

import type { ProviderRuntime } from '../compiled/provider_runtime.ts';
import type { RouteConfig } from '../config/schema.ts';
import { complexityScore } from './complexity.ts';

export interface CompiledBackend {
  provider: ProviderRuntime;
  /** model sent upstream, or undefined to send the requested model */
  model: string | undefined;
  weight: number;
  tier: 'cheap' | 'strong' | undefined;
}

export interface BalanceInput {
  model: string;
  promptText: () => string;
  turns: number;
  inputTokens: () => number;
  maxOutputTokens: number | undefined;
  /** the caller's tenant ('' on a replica serving one): the latency strategy uses its own averages */
  tenant?: string;
}

export type Strategy = RouteConfig['strategy'];

function weightedPick(list: CompiledBackend[], random: () => number): number {
  let total = 0;
  for (const b of list) total += b.weight;
  if (total <= 0) return 0;
  let r = random() * total;
  for (let i = 0; i < list.length; i++) {
    r -= (list[i] as CompiledBackend).weight;
    if (r < 0) return i;
  }
  return list.length - 1;
}

/** Weighted shuffle: repeated weighted picks without replacement. */
function weightedOrder(list: CompiledBackend[], random: () => number): CompiledBackend[] {
  const rest = list.filter((b) => b.weight > 0);
  const out: CompiledBackend[] = [];
  while (rest.length) out.push(...rest.splice(weightedPick(rest, random), 1));
  return out.concat(list.filter((b) => b.weight === 0));
}

export function upstreamModel(b: CompiledBackend, requested: string): string {
  return b.model ?? requested;
}

export class Balancer {
  readonly strategy: Strategy;
  readonly backends: CompiledBackend[];
  readonly #complexity: RouteConfig['complexity'];
  readonly #random: () => number;
  /** smooth weighted round-robin state (nginx's algorithm): current weights per backend */
  readonly #current: number[];

  constructor(route: RouteConfig, backends: CompiledBackend[], random: () => number = Math.random) {
    this.strategy = route.strategy;
    this.backends = backends;
    this.#complexity = route.complexity;
    this.#random = random;
    this.#current = backends.map(() => 0);
  }

  order(input: BalanceInput): CompiledBackend[] {
    const list = this.backends;
    // one backend, or none when the degrade switch suspended them all (the fallback chain serves)
    if (list.length <= 1) return list;
    switch (this.strategy) {
      case 'weighted-random':
        return weightedOrder(list, this.#random);
      case 'round-robin':
        return this.#roundRobin();
      case 'least-outstanding':
        return this.#sortBy((b) => (b.provider.outstanding + 1) / Math.max(b.weight, 1e-9));
      case 'latency':
        return this.#sortBy(
          (b) =>
            b.provider.latencyScore(upstreamModel(b, input.model), input.tenant) / Math.max(b.weight, 1e-9),
        );
      case 'cost':
        return this.#byCost(input);
      case 'complexity':
        return this.#byComplexity(input);
    }
  }

  #roundRobin(): CompiledBackend[] {
    const list = this.backends;
    let total = 0;
    let best = 0;
    for (let i = 0; i < list.length; i++) {
      const w = (list[i] as CompiledBackend).weight;
      total += w;
      this.#current[i] = (this.#current[i] ?? 0) + w;
      if ((this.#current[i] ?? 0) > (this.#current[best] ?? 0)) best = i;
    }
    this.#current[best] = (this.#current[best] ?? 0) - total;
    return [
      list[best] as CompiledBackend,
      ...list.filter((_, i) => i !== best && (list[i] as CompiledBackend).weight > 0),
    ];
  }

  /** Lowest score first; ties broken at random so equal backends share load. */
  #sortBy(score: (b: CompiledBackend) => number): CompiledBackend[] {
    return this.backends
      .filter((b) => b.weight > 0)
      .map((b) => ({ b, s: score(b), t: this.#random() }))
      .sort((x, y) => x.s - y.s || x.t - y.t)
      .map((x) => x.b);
  }

  #byCost(input: BalanceInput): CompiledBackend[] {
    const inTok = input.inputTokens();
    const outTok = input.maxOutputTokens ?? 256;
    const priced = this.backends
      .filter((b) => b.weight > 0)
      .map((b) => {
        const m = b.provider.modelConfig(upstreamModel(b, input.model));
        const fits = !m?.contextWindow || inTok + (input.maxOutputTokens ?? 0) <= m.contextWindow;
        const p = m?.pricing;
        const cost = p ? (inTok * p.inputPerMTok + outTok * p.outputPerMTok) / 1e6 : Number.POSITIVE_INFINITY;
        return { b, fits, cost, t: this.#random() };
      });
    priced.sort((x, y) => Number(y.fits) - Number(x.fits) || x.cost - y.cost || x.t - y.t);
    return priced.map((x) => x.b);
  }

  #byComplexity(input: BalanceInput): CompiledBackend[] {
    const cfg = this.#complexity ?? {
      strongThreshold: 0.5,
      weights: { length: 0.35, code: 0.25, reasoning: 0.25, turns: 0.15 },
    };
    const score = complexityScore(input.promptText(), input.turns, cfg.weights);
    const want = score >= cfg.strongThreshold ? 'strong' : 'cheap';
    const first = weightedOrder(
      this.backends.filter((b) => b.tier === want),
      this.#random,
    );
    return first.concat(
      weightedOrder(
        this.backends.filter((b) => b.tier !== want),
        this.#random,
      ),
    );
  }
}
