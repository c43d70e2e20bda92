// Provider presets: everything that distinguishes one provider type from another that shares a wire format.
// Adding an OpenAI-compatible provider is one entry here, never a new code path.
import type { ProviderPreset } from './types.ts';

const OPENAI_PATHS = {
  'openai-chat': '/chat/completions',
  'openai-completions': '/completions',
  'openai-embeddings': '/embeddings',
  health: '/models',
} as const;

/** An OpenAI-compatible preset: the shared `openai` translator with this base URL and auth. */
function openaiCompatible(
  type: string,
  displayName: string,
  defaultBaseUrl: string | undefined,
  extra: Partial<ProviderPreset> = {},
): ProviderPreset {
  return {
    type,
    displayName,
    api: 'openai',
    transport: 'http',
    defaultBaseUrl,
    auth: 'bearer',
    paths: { ...OPENAI_PATHS },
    requiredCredentials: ['apiKey'],
    ...extra,
  };
}

const PRESETS: ProviderPreset[] = [
  openaiCompatible('openai', 'OpenAI', 'https://api.openai.com/v1'),
  openaiCompatible('azure-openai', 'Azure OpenAI', undefined, {
    auth: 'api-key',
    paths: {
      'openai-chat': '/openai/deployments/{model}/chat/completions',
      'openai-completions': '/openai/deployments/{model}/completions',
      'openai-embeddings': '/openai/deployments/{model}/embeddings',
      health: '/openai/models',
    },
    query: 'api-version={apiVersion}',
    defaultApiVersion: '2024-10-21',
  }),
  {
    type: 'mock',
    displayName: 'Built-in mock (deterministic, no network)',
    api: 'openai',
    transport: 'mock',
    defaultBaseUrl: 'http://mock.invalid/v1',
    auth: 'none',
    paths: { ...OPENAI_PATHS },
    requiredCredentials: [],
  },
];

const byType = new Map<string, ProviderPreset>(PRESETS.map((p) => [p.type, p]));

export function registerPreset(preset: ProviderPreset): void {
  byType.set(preset.type, preset);
}

export function getPreset(type: string): ProviderPreset | undefined {
  return byType.get(type);
}

export function listPresets(): ProviderPreset[] {
  return [...byType.values()];
}

export { openaiCompatible };
