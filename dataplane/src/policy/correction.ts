// For model families without a public tokenizer, Sluice estimates prompt tokens (tokens/counter.ts)
// and the provider's reported usage tells how far off the estimate was. This keeps a ratio per tenant
// and model (exponential moving average of reported / estimated) and scales later estimates by it, so
// token reservations converge on what the provider will actually bill. BPE-counted families need none.
//
// Per tenant, not per model alone: the ratio scales what limits count, and one tenant's traffic
// (prompts the estimate undercounts, billed at 3x) moved it for every tenant on the model, so a
// neighbour's prompt within its maxInputTokens was refused as three times longer
// (test/adversarial/shared_estimates.test.ts). A tenant's own prompts are also the best sample of
// the text it sends.
const ALPHA = 0.2;
const MIN_RATIO = 0.5;
const MAX_RATIO = 3;
/** Models are config names, but routes may pass any requested model through: bound the map. */
const MAX_ENTRIES = 10_000;

const keyOf = (namespace: string, model: string): string => `${namespace}\0${model}`;

export class EstimateCorrection {
  readonly #ratios = new Map<string, number>();

  factor(namespace: string, model: string): number {
    return this.#ratios.get(keyOf(namespace, model)) ?? 1;
  }

  observe(namespace: string, model: string, estimated: number, reported: number): void {
    if (estimated <= 0 || reported <= 0) return;
    const key = keyOf(namespace, model);
    const sample = Math.min(MAX_RATIO, Math.max(MIN_RATIO, reported / estimated));
    const prev = this.#ratios.get(key);
    if (prev === undefined && this.#ratios.size >= MAX_ENTRIES) return;
    this.#ratios.set(key, prev === undefined ? sample : prev + ALPHA * (sample - prev));
  }

  /** Corrected estimate: never below the raw estimate's framing, always a whole token count. */
  apply(namespace: string, model: string, estimated: number): number {
    return Math.ceil(estimated * this.factor(namespace, model));
  }
}

/** One per process: what a model's tokenizer does does not change with a config reload. */
export const estimateCorrection = new EstimateCorrection();
