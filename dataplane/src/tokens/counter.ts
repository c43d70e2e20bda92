// Token counting for limits, caps and usage when a provider reports none.
// OpenAI families use their real BPE encodings (js-tiktoken): o200k_base for gpt-4o / 4.1 / 5 / o-series,
// cl100k_base for gpt-4 / 3.5 and embeddings. Other families use the documented estimator
// (1 token per 4 characters of Latin text, 1 per CJK character), which the provider's reported usage
// corrects after the fact.
import { getEncoding, type Tiktoken } from 'js-tiktoken';

export type EncodingName = 'o200k_base' | 'cl100k_base' | 'estimate';

const encoders = new Map<string, Tiktoken>();

function encoder(name: 'o200k_base' | 'cl100k_base'): Tiktoken {
  let e = encoders.get(name);
  if (!e) {
    e = getEncoding(name);
    encoders.set(name, e);
  }
  return e;
}

export function encodingForModel(model: string, configured?: EncodingName): EncodingName {
  if (configured) return configured;
  const m = model.toLowerCase();
  if (/^(gpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|o\d|chatgpt-4o|gpt-oss)/.test(m)) return 'o200k_base';
  if (/^(gpt-4|gpt-3\.5|text-embedding|davinci|babbage)/.test(m)) return 'cl100k_base';
  return 'estimate';
}

const CJK = /[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]/g;

export function estimateTokens(text: string): number {
  if (!text) return 0;
  const cjk = text.match(CJK)?.length ?? 0;
  return cjk + Math.ceil((text.length - cjk) / 4);
}

export function countTokens(text: string, encoding: EncodingName): number {
  if (!text) return 0;
  if (encoding === 'estimate') return estimateTokens(text);
  return encoder(encoding).encode(text).length;
}

/** The longest prefix of `text` that is at most `max` tokens. */
export function truncateToTokens(text: string, max: number, encoding: EncodingName): string {
  if (max <= 0) return '';
  if (encoding === 'estimate') {
    let tokens = 0;
    let i = 0;
    let latin = 0;
    for (; i < text.length; i++) {
      const ch = text[i] as string;
      if (CJK.test(ch)) {
        CJK.lastIndex = 0;
        tokens += 1;
      } else {
        latin++;
        if (latin % 4 === 1) tokens += 1;
      }
      if (tokens > max) break;
    }
    return text.slice(0, i);
  }
  const e = encoder(encoding);
  const ids = e.encode(text);
  return ids.length <= max ? text : e.decode(ids.slice(0, max));
}

/** Chat prompt tokens: the text plus OpenAI's per-message framing (3 per message, 3 to prime the reply). */
export function countPromptTokens(text: string, turns: number, encoding: EncodingName): number {
  return countTokens(text, encoding) + 3 * turns + 3;
}
