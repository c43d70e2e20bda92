// For model families without a public tokenizer, Sluice estimates prompt tokens (tokens/counter.ts)
// and the provider's reported usage tells how far off the estimate was. This keeps a per-model ratio
// (exponential moving average of reported / estimated) and scales later estimates by it, so token
// reservations converge on what the provider will actually bill. BPE-counted families need none.
const ALPHA = 0.2;
const MIN_RATIO = 0.5;
const MAX_RATIO = 3;
/** Models are config names, but routes may pass any requested model through: bound the map. */
const MAX_MODELS = 1_000;

export class EstimateCorrection {
  readonly #ratios = new Map<string, number>();

  factor(model: string): number {
    return this.#ratios.get(model) ?? 1;
  }

  observe(model: string, estimated: number, reported: number): void {
    if (estimated <= 0 || reported <= 0) return;
    const sample = Math.min(MAX_RATIO, Math.max(MIN_RATIO, reported / estimated));
    const prev = this.#ratios.get(model);
    if (prev === undefined && this.#ratios.size >= MAX_MODELS) return;
    this.#ratios.set(model, prev === undefined ? sample : prev + ALPHA * (sample - prev));
  }

  /** Corrected estimate: never below the raw estimate's framing, always a whole token count. */
  apply(model: string, estimated: number): number {
    return Math.ceil(estimated * this.factor(model));
  }
}

/** One per process: what a model's tokenizer does does not change with a config reload. */
export const estimateCorrection = new EstimateCorrection();
