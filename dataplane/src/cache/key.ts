// The response cache key: SHA-256 over the namespace, route, client API and the normalised request.
// Normalising means: object keys sorted at every depth (so {"a":1,"b":2} and {"b":2,"a":1} hit the same
// entry) and transport-only fields dropped (stream, stream_options); everything that can change the
// answer stays in. The namespace is part of the key, so one tenant can never read another's entries;
// it also leads it (`<namespace>/...`), which is how the L1 cache tells tenants apart (lru.ts).
import { createHash } from 'node:crypto';

const TRANSPORT_ONLY = new Set(['stream', 'stream_options']);

function canonical(value: unknown, top: boolean): unknown {
  if (Array.isArray(value)) return value.map((v) => canonical(v, false));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(value).sort()) {
    if (top && TRANSPORT_ONLY.has(k)) continue;
    const v = (value as Record<string, unknown>)[k];
    if (v !== undefined) out[k] = canonical(v, false);
  }
  return out;
}

export interface CacheKeyParts {
  namespace: string;
  route: string;
  api: string;
  body: Record<string, unknown>;
  ttlSeconds: number;
}

/**
 * `<namespace>/<sha256>.<ttl>`: the TTL rides in the key so the store can apply it when the answer
 * arrives, and a TTL change in the config simply starts a fresh set of entries. (Namespace names
 * cannot contain '/'.)
 */
export function responseCacheKey(p: CacheKeyParts): string {
  const digest = createHash('sha256')
    .update(JSON.stringify([p.namespace, p.route, p.api, canonical(p.body, true)]))
    .digest('hex');
  return `${p.namespace}/${digest}.${p.ttlSeconds}`;
}

export function ttlOfKey(key: string): number | undefined {
  const ttl = Number(key.slice(key.lastIndexOf('.') + 1));
  return Number.isInteger(ttl) && ttl > 0 ? ttl : undefined;
}
