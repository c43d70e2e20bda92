// The provider's response headers a client can use, passed on under names that cannot be mistaken for
// Sluice's own: the provider's rate-limit state (`x-ratelimit-*`, `anthropic-ratelimit-*`) as
// `x-upstream-<name>` (Sluice's x-ratelimit-* describe the tenant's limits in the gateway; only where
// the provider's `rateLimitHeaders` setting allows, see compiled/rate_limit_headers.ts), the
// provider's request id as `x-upstream-request-id` (what its support asks for), and
// `openai-processing-ms` as it is. Everything else stays at the gateway (cookies, server names,
// organisation and project ids). Values are bounded and must be printable.
import type { UpstreamResponse } from './transport.ts';

const REQUEST_ID_HEADERS = ['x-request-id', 'request-id', 'x-amzn-requestid', 'x-goog-request-id'];
const RATE_LIMIT = /^(x-ratelimit-|anthropic-ratelimit-)[a-z0-9-]{1,64}$/;
const VALUE = /^[\x20-\x7e]{1,256}$/;

function one(v: string | string[] | undefined): string | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  return s !== undefined && VALUE.test(s) ? s : undefined;
}

/**
 * `rateLimits`: the provider's rate-limit headers pass too (decided at load, compiled/rate_limit_headers.ts:
 * on an account several tenants share they would show one tenant the others' use).
 */
export function passedUpstreamHeaders(
  headers: UpstreamResponse['headers'],
  rateLimits: boolean,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of REQUEST_ID_HEADERS) {
    const v = one(headers[name]);
    if (v) {
      out['x-upstream-request-id'] = v;
      break;
    }
  }
  const ms = one(headers['openai-processing-ms']);
  if (ms && /^\d{1,9}$/.test(ms)) out['openai-processing-ms'] = ms;
  if (!rateLimits) return out;
  for (const name of Object.keys(headers)) {
    if (!RATE_LIMIT.test(name)) continue;
    const v = one(headers[name]);
    if (v) out[`x-upstream-${name}`] = v;
  }
  return out;
}
