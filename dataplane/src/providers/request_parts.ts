// Pieces every translator needs to address a provider: the path for an operation and the auth headers.
import type { ResolvedProvider, UpstreamOperation } from './types.ts';

/**
 * A model name as one URL path segment. encodeURIComponent leaves dots alone, and a `.` or `..`
 * segment would be resolved by the upstream or a proxy on the way (`/model/../converse`): those are
 * written as %2E. Client names never get here with them (api/request_guards.ts); a configured backend
 * model could.
 */
export function modelSegment(model: string): string {
  return model === '.' || model === '..' ? '%2E'.repeat(model.length) : encodeURIComponent(model);
}

export function expandTemplate(template: string, provider: ResolvedProvider, model: string): string {
  return template
    .replaceAll('{model}', modelSegment(model))
    .replaceAll(
      '{apiVersion}',
      encodeURIComponent(provider.config.apiVersion ?? provider.preset.defaultApiVersion ?? ''),
    )
    .replaceAll('{region}', encodeURIComponent(provider.config.region ?? ''));
}

// Paths are decided once per (provider config, operation, model, query): a ResolvedProvider is rebuilt
// on every config load, so a cache keyed by it can never serve a path from an older config. Model
// names come from clients, so each provider keeps at most PATH_CACHE_MAX of them.
const PATH_CACHE_MAX = 1024;
const pathCache = new WeakMap<ResolvedProvider, Map<string, string>>();

/** basePath + the preset's path for `op` + the preset's query, with templates expanded. */
export function upstreamPath(
  provider: ResolvedProvider,
  op: UpstreamOperation,
  model: string,
  extraQuery?: string,
): string {
  let cache = pathCache.get(provider);
  if (!cache) {
    cache = new Map();
    pathCache.set(provider, cache);
  }
  const key = extraQuery === undefined ? `${op}\n${model}` : `${op}\n${model}\n${extraQuery}`;
  const known = cache.get(key);
  if (known !== undefined) return known;
  const path = buildPath(provider, op, model, extraQuery);
  if (cache.size < PATH_CACHE_MAX) cache.set(key, path);
  return path;
}

function buildPath(
  provider: ResolvedProvider,
  op: UpstreamOperation,
  model: string,
  extraQuery: string | undefined,
): string {
  const template = provider.preset.pathTemplateByOperation[op];
  if (template === undefined) throw new Error(`preset ${provider.preset.type} has no path for ${op}`);
  let path = provider.basePath + expandTemplate(template, provider, model);
  const query = [
    provider.preset.query ? expandTemplate(provider.preset.query, provider, model) : '',
    extraQuery ?? '',
  ]
    .filter(Boolean)
    .join('&');
  if (query) path += (path.includes('?') ? '&' : '?') + query;
  return path;
}

/** Auth + static headers for a provider (sigv4 is signed by its translator, not here). */
export function authHeaders(provider: ResolvedProvider): Record<string, string> {
  const headers: Record<string, string> = { ...provider.config.headers };
  const version = provider.config.apiVersion ?? provider.preset.defaultApiVersion;
  if (provider.preset.versionHeader && version) headers[provider.preset.versionHeader] = version;
  const key = provider.credentials.apiKey;
  if (key !== undefined) {
    switch (provider.preset.auth) {
      case 'bearer':
        headers.authorization = `Bearer ${key}`;
        break;
      case 'api-key':
        headers['api-key'] = key;
        break;
      case 'x-api-key':
        headers['x-api-key'] = key;
        break;
      case 'goog-api-key':
        headers['x-goog-api-key'] = key;
        break;
      default:
        break;
    }
  }
  return headers;
}

// The upstream headers of a JSON API depend only on the provider's config (auth, static headers) and
// on whether the answer is streamed: built once per loaded provider, frozen because every request
// shares them (the attempt copies them before adding its own, proxy/attempt_loop.ts).
const headerCache = new WeakMap<
  ResolvedProvider,
  { whole: Record<string, string>; stream: Record<string, string> }
>();

/** JSON content type, the provider's auth and static headers, and `accept` for a stream. */
export function jsonRequestHeaders(provider: ResolvedProvider, stream: boolean): Record<string, string> {
  let h = headerCache.get(provider);
  if (!h) {
    const whole = Object.freeze({ ...JSON_HEADERS, ...authHeaders(provider) });
    h = { whole, stream: Object.freeze({ ...whole, accept: 'text/event-stream' }) };
    headerCache.set(provider, h);
  }
  return stream ? h.stream : h.whole;
}

export const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json' } as const;
