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
    pathTemplateByOperation: { ...OPENAI_PATHS },
    requiredCredentials: ['apiKey'],
    ...extra,
  };
}

const PRESETS: ProviderPreset[] = [
  // OpenAI and Azure serve the Responses API themselves: /v1/responses passes through to them natively
  // max_completion_tokens: OpenAI's current name, the only one reasoning models (gpt-5, o-series) take
  openaiCompatible('openai', 'OpenAI', 'https://api.openai.com/v1', {
    pathTemplateByOperation: { ...OPENAI_PATHS, 'openai-responses': '/responses' },
    quirks: {
      maxCompletionTokens: true,
      maxStopSequences: 4,
      maxToolNameLength: 64,
      maxToolCallIdLength: 40,
    },
  }),
  openaiCompatible('azure-openai', 'Azure OpenAI', undefined, {
    auth: 'api-key',
    pathTemplateByOperation: {
      'openai-chat': '/openai/deployments/{model}/chat/completions',
      'openai-completions': '/openai/deployments/{model}/completions',
      'openai-embeddings': '/openai/deployments/{model}/embeddings',
      // the deployment is the body's `model`; older api versions than the quirk's go through chat
      'openai-responses': '/openai/responses',
      health: '/openai/models',
    },
    query: 'api-version={apiVersion}',
    defaultApiVersion: '2024-10-21',
    quirks: {
      responsesMinApiVersion: '2025-03-01-preview',
      maxCompletionTokens: true,
      maxStopSequences: 4,
      maxToolNameLength: 64,
      maxToolCallIdLength: 40,
    },
  }),
  // --- native wire formats (translated) ---
  {
    type: 'anthropic',
    displayName: 'Anthropic',
    api: 'anthropic',
    transport: 'http',
    defaultBaseUrl: 'https://api.anthropic.com',
    // x-api-key plus the anthropic-version header (config apiVersion) on every request and health probe
    auth: 'x-api-key',
    versionHeader: 'anthropic-version',
    pathTemplateByOperation: {
      'openai-chat': '/v1/messages',
      'anthropic-messages': '/v1/messages',
      health: '/v1/models',
    },
    requiredCredentials: ['apiKey'],
    defaultApiVersion: '2023-06-01',
    quirks: { unsupported: ['embeddings', 'completions'] },
  },
  {
    type: 'gemini',
    displayName: 'Google Gemini API',
    api: 'gemini',
    transport: 'http',
    defaultBaseUrl: 'https://generativelanguage.googleapis.com/v1beta',
    auth: 'goog-api-key',
    pathTemplateByOperation: {
      'openai-chat': '/models/{model}:generateContent',
      stream: '/models/{model}:streamGenerateContent?alt=sse',
      'openai-embeddings': '/models/{model}:batchEmbedContents',
      health: '/models',
    },
    requiredCredentials: ['apiKey'],
  },
  {
    type: 'bedrock',
    displayName: 'Amazon Bedrock (Converse)',
    api: 'bedrock',
    transport: 'http',
    defaultBaseUrl: 'https://bedrock-runtime.{region}.amazonaws.com',
    auth: 'sigv4',
    pathTemplateByOperation: {
      'openai-chat': '/model/{model}/converse',
      stream: '/model/{model}/converse-stream',
    },
    requiredCredentials: ['accessKeyId', 'secretAccessKey'],
  },
  // --- OpenAI-compatible providers: base URL, auth and quirks only (docs/providers.md has the sources) ---
  openaiCompatible('deepseek', 'DeepSeek', 'https://api.deepseek.com/v1', {
    quirks: { legacyMaxTokens: true, unsupported: ['embeddings', 'completions', 'vision'] },
  }),
  openaiCompatible(
    'dashscope',
    'Alibaba Cloud Model Studio (DashScope, Qwen)',
    'https://dashscope.aliyuncs.com/compatible-mode/v1',
    {
      quirks: { legacyMaxTokens: true },
    },
  ),
  // the name the CRD docs and most users know it by
  openaiCompatible(
    'qwen',
    'Qwen (Alibaba Cloud DashScope)',
    'https://dashscope.aliyuncs.com/compatible-mode/v1',
    {
      quirks: { legacyMaxTokens: true },
    },
  ),
  openaiCompatible('moonshot', 'Moonshot AI (Kimi)', 'https://api.moonshot.cn/v1', {
    quirks: { legacyMaxTokens: true, unsupported: ['embeddings', 'completions'] },
  }),
  openaiCompatible('zhipu', 'Zhipu AI BigModel (GLM)', 'https://open.bigmodel.cn/api/paas/v4', {
    quirks: { legacyMaxTokens: true, unsupported: ['completions'] },
  }),
  openaiCompatible('qianfan', 'Baidu Qianfan (ERNIE)', 'https://qianfan.baidubce.com/v2', {
    quirks: { legacyMaxTokens: true, unsupported: ['completions'] },
  }),
  openaiCompatible('doubao', 'Volcengine Ark (Doubao)', 'https://ark.cn-beijing.volces.com/api/v3', {
    quirks: { legacyMaxTokens: true, unsupported: ['completions'] },
  }),
  openaiCompatible('minimax', 'MiniMax', 'https://api.minimax.io/v1', {
    quirks: { legacyMaxTokens: true, unsupported: ['embeddings', 'completions'] },
  }),
  openaiCompatible('mistral', 'Mistral AI', 'https://api.mistral.ai/v1', {
    // rejects unknown fields with 422; sends stream usage in the last chunk by itself
    quirks: { noStreamOptions: true, legacyMaxTokens: true, unsupported: ['completions'] },
  }),
  openaiCompatible('groq', 'Groq', 'https://api.groq.com/openai/v1', {
    quirks: { unsupported: ['embeddings', 'completions'] },
  }),
  openaiCompatible('together', 'Together AI', 'https://api.together.xyz/v1'),
  openaiCompatible('fireworks', 'Fireworks AI', 'https://api.fireworks.ai/inference/v1'),
  openaiCompatible('openrouter', 'OpenRouter', 'https://openrouter.ai/api/v1'),
  openaiCompatible('xai', 'xAI (Grok)', 'https://api.x.ai/v1', { quirks: { unsupported: ['embeddings'] } }),
  openaiCompatible('perplexity', 'Perplexity (Sonar)', 'https://api.perplexity.ai', {
    quirks: { legacyMaxTokens: true, unsupported: ['tools', 'embeddings', 'completions'] },
  }),
  openaiCompatible('cohere', 'Cohere (Compatibility API)', 'https://api.cohere.ai/compatibility/v1', {
    // the compatibility API reports no stream usage, so Sluice counts it instead of asking
    quirks: { noStreamOptions: true, legacyMaxTokens: true, unsupported: ['completions'] },
  }),
  openaiCompatible('deepinfra', 'DeepInfra', 'https://api.deepinfra.com/v1/openai'),
  openaiCompatible('siliconflow', 'SiliconFlow', 'https://api.siliconflow.cn/v1', {
    quirks: { legacyMaxTokens: true },
  }),
  openaiCompatible('cerebras', 'Cerebras', 'https://api.cerebras.ai/v1', {
    quirks: { unsupported: ['embeddings'] },
  }),
  // self-hosted servers: the API key is optional (sent as Bearer when configured)
  openaiCompatible('vllm', 'vLLM', 'http://localhost:8000/v1', { requiredCredentials: [] }),
  openaiCompatible('ollama', 'Ollama', 'http://localhost:11434/v1', {
    requiredCredentials: [],
    quirks: { legacyMaxTokens: true },
  }),
  openaiCompatible('lm-studio', 'LM Studio', 'http://localhost:1234/v1', {
    requiredCredentials: [],
    quirks: { legacyMaxTokens: true },
  }),
  // No default URL: llama-server listens on 8080 by default, which is the dataplane's own port, so a
  // guessed default would send the gateway's requests back to itself. baseUrl is required.
  openaiCompatible('llama-cpp', 'llama.cpp server', undefined, {
    requiredCredentials: [],
    quirks: { legacyMaxTokens: true },
  }),
  {
    type: 'mock',
    displayName: 'Built-in mock (deterministic, no network)',
    api: 'openai',
    transport: 'mock',
    defaultBaseUrl: 'http://mock.invalid/v1',
    auth: 'none',
    pathTemplateByOperation: { ...OPENAI_PATHS },
    requiredCredentials: [],
  },
];

const byType = new Map<string, ProviderPreset>(PRESETS.map((p) => [p.type, p]));

export function getPreset(type: string): ProviderPreset | undefined {
  return byType.get(type);
}

export function listPresets(): ProviderPreset[] {
  return [...byType.values()];
}

export { openaiCompatible };
