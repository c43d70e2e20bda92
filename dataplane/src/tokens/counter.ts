// Token counting for limits, caps and usage when a provider reports none.
//
// Method per model family (docs/policies.md "Token counting"):
//   - OpenAI families use their real BPE encodings through tokens/bpe.ts (same ids as tiktoken, tested
//     against gpt-tokenizer; rank tables of ~4 MiB instead of gpt-tokenizer's ~56 MiB of objects):
//     o200k_base for gpt-4o / 4.1 / 4.5 / 5,
//     the o-series and gpt-oss; cl100k_base for gpt-4 / gpt-4-turbo / gpt-3.5 and the embedding models.
//   - Every other family (Claude, Gemini, Llama, Qwen, DeepSeek, Mistral, ...) uses the estimator:
//     1 token per CJK character plus 1 per 4 other characters. Their tokenizers are either unpublished
//     (Claude, Gemini) or differ per checkpoint; the provider's reported usage corrects the count after
//     the fact (policy reconciliation, and the per-model correction in policy/correction.ts).
//   - Chat prompts add OpenAI's framing: 3 tokens per message and 3 to prime the reply.
// Text that looks like a special token ("<|endoftext|>") is counted as plain text, as the providers'
// APIs do for user content; it must never make counting throw. Each encoding's table is loaded on
// first use, so a replica that only serves o200k models never holds the cl100k table.
import { countTokens as countBpe, prefixWithinTokens } from './bpe.ts';

export type EncodingName = 'o200k_base' | 'cl100k_base' | 'estimate';

const O200K = /^(gpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|o\d|chatgpt-4o|gpt-oss|gpt-realtime|gpt-audio|codex-mini)/;
const CL100K = /^(gpt-4|gpt-3\.5|text-embedding|davinci-002|babbage-002)/;

export function encodingForModel(model: string, configured?: EncodingName): EncodingName {
  if (configured) return configured;
  // "openai/gpt-4o" (routers, Bedrock-style ids) and "ft:gpt-4o-mini:org::id" name the base model too.
  const m = model.toLowerCase().replace(/^.*\//, '').replace(/^ft:/, '');
  if (O200K.test(m)) return 'o200k_base';
  if (CL100K.test(m)) return 'cl100k_base';
  return 'estimate';
}

const CJK = /[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]/g;

export function estimateTokens(text: string): number {
  if (!text) return 0;
  const cjk = text.match(CJK)?.length ?? 0;
  return cjk + Math.ceil((text.length - cjk) / 4);
}

// Counts of large texts computed off the main thread (tokens/pool.ts) are remembered here, so the
// synchronous callers that later count the same prompt (usage fallback, balancers) do not redo it.
const MEMO_MIN_CHARS = 16 * 1024;
const MEMO_MAX_CHARS = 32 * 1024 * 1024;
const memo = new Map<string, number>();
const memoKey = (text: string, encoding: EncodingName) => `${encoding}\u0000${text}`;
let memoChars = 0;

export function rememberCount(text: string, encoding: EncodingName, tokens: number): void {
  if (text.length < MEMO_MIN_CHARS || text.length > MEMO_MAX_CHARS) return;
  const key = memoKey(text, encoding);
  if (memo.has(key)) return;
  memo.set(key, tokens);
  memoChars += key.length;
  // Oldest first (Map keeps insertion order) until the memo is back under its size bound.
  for (const k of memo.keys()) {
    if (memoChars <= MEMO_MAX_CHARS) break;
    memo.delete(k);
    memoChars -= k.length;
  }
}

export function countTokens(text: string, encoding: EncodingName): number {
  if (!text) return 0;
  if (encoding === 'estimate') return estimateTokens(text);
  if (text.length >= MEMO_MIN_CHARS) {
    const known = memo.get(memoKey(text, encoding));
    if (known !== undefined) return known;
  }
  return countBpe(text, encoding);
}

/** The longest prefix of `text` that is at most `max` tokens and does not end inside a character. */
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
  // Token boundaries inside a multi-byte character (emoji, rare CJK) are stepped back over, so the
  // client never gets half a character.
  return prefixWithinTokens(text, max, encoding);
}

/** Chat framing per OpenAI's published counting recipe: 3 tokens per message, 3 to prime the reply. */
export const TOKENS_PER_MESSAGE = 3;
export const TOKENS_REPLY_PRIMING = 3;

/** Above this many characters a text is never tokenized on the event loop (tokens/pool.ts counts it). */
export const INLINE_MAX_CHARS = 32 * 1024;

/**
 * Prompt tokens for callers that cannot wait for the counting pool (a cost-based balancer, the usage
 * fallback when an upstream reports none): exact when the text is small or the pool already counted
 * it, else the estimate. Tokenizing a 10 MB prompt inline held the event loop ~0.5-1 s for every tenant.
 */
export function promptTokensWithoutBlocking(text: string, turns: number, encoding: EncodingName): number {
  if (encoding !== 'estimate' && text.length >= INLINE_MAX_CHARS && !memo.has(memoKey(text, encoding)))
    return countPromptTokens(text, turns, 'estimate');
  return countPromptTokens(text, turns, encoding);
}

/** Chat prompt tokens: the text plus the per-message framing. */
export function countPromptTokens(text: string, turns: number, encoding: EncodingName): number {
  return countTokens(text, encoding) + TOKENS_PER_MESSAGE * turns + TOKENS_REPLY_PRIMING;
}
