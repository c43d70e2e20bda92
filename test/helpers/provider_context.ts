// A TranslateContext for translator unit tests: a provider resolved from a real preset, the way
// compiled/compile.ts resolves it (base URL, origin, base path, credentials), without loading a config.
import type { ProviderConfig } from '../../dataplane/src/config/schema.ts';
import { getPreset } from '../../dataplane/src/providers/presets.ts';
import type { ClientApi, ResolvedProvider, TranslateContext } from '../../dataplane/src/providers/types.ts';

export function resolvedProvider(
  type: string,
  opts: {
    baseUrl?: string;
    region?: string;
    credentials?: Record<string, string>;
    apiVersion?: string;
    name?: string;
  } = {},
): ResolvedProvider {
  const preset = getPreset(type);
  if (!preset) throw new Error(`no preset ${type}`);
  const baseUrl = (opts.baseUrl ?? preset.defaultBaseUrl ?? '').replaceAll('{region}', opts.region ?? '');
  const url = new URL(baseUrl);
  const config = {
    name: opts.name ?? type,
    type,
    models: [],
    maxQueue: 100,
    connections: 1,
    ...(opts.region ? { region: opts.region } : {}),
    ...(opts.apiVersion ? { apiVersion: opts.apiVersion } : {}),
  } as ProviderConfig;
  return {
    name: config.name,
    config,
    preset,
    baseUrl,
    origin: url.origin,
    basePath: url.pathname.replace(/\/+$/, ''),
    credentials: opts.credentials ?? { apiKey: 'test-key' },
    models: new Map(),
  };
}

export function translateContext(
  provider: ResolvedProvider,
  opts: { model?: string; stream?: boolean; clientApi?: ClientApi; wantsUsage?: boolean } = {},
): TranslateContext {
  return {
    provider,
    upstreamModel: opts.model ?? 'test-model',
    clientModel: opts.model ?? 'test-model',
    clientApi: opts.clientApi ?? 'openai-chat',
    stream: opts.stream ?? false,
    requestId: 'req-1',
    clientWantsStreamUsage: opts.wantsUsage ?? false,
  };
}

/** Parse OpenAI SSE output into its JSON chunks (and whether [DONE] came). */
export function sseChunks(data: string): { chunks: Array<Record<string, unknown>>; done: boolean } {
  const chunks: Array<Record<string, unknown>> = [];
  let done = false;
  for (const frame of data.split('\n\n')) {
    const line = frame.trim();
    if (!line.startsWith('data: ')) continue;
    const payload = line.slice(6);
    if (payload === '[DONE]') done = true;
    else chunks.push(JSON.parse(payload) as Record<string, unknown>);
  }
  return { chunks, done };
}
