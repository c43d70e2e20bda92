// Rate-limit response headers with OpenAI's names, so clients that already back off on OpenAI's
// headers (the official SDKs do) behave the same behind Sluice. With several limits of a kind, the
// headers describe the tightest one (fewest remaining), which is the one the client will hit first.
import { formatDuration } from '../store/windows.ts';

export interface LimitStatus {
  limit: number;
  remaining: number;
  resetMs: number;
}

function tightest(list: LimitStatus[]): LimitStatus | undefined {
  let best: LimitStatus | undefined;
  for (const s of list) if (!best || s.remaining < best.remaining) best = s;
  return best;
}

export function rateLimitHeaders(requests: LimitStatus[], tokens: LimitStatus[]): Record<string, string> {
  const h: Record<string, string> = {};
  const r = tightest(requests);
  if (r) {
    h['x-ratelimit-limit-requests'] = String(r.limit);
    h['x-ratelimit-remaining-requests'] = String(Math.max(0, Math.floor(r.remaining)));
    h['x-ratelimit-reset-requests'] = formatDuration(r.resetMs);
  }
  const t = tightest(tokens);
  if (t) {
    h['x-ratelimit-limit-tokens'] = String(t.limit);
    h['x-ratelimit-remaining-tokens'] = String(Math.max(0, Math.floor(t.remaining)));
    h['x-ratelimit-reset-tokens'] = formatDuration(t.resetMs);
  }
  return h;
}

/** Retry-After is whole seconds (RFC 9110); never 0, or clients would retry in a tight loop. */
export function retryAfter(ms: number): string {
  return String(Math.max(1, Math.ceil(ms / 1000)));
}
