// A translator that declares leavesBodyIntact gets the client's parsed body itself, not a copy, on
// every attempt; if it ever edited that body, a retry or fallback would send something the client
// never sent. This holds every such translator to its word, over every preset with quirks, whole and
// streamed, for generated bodies.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { resolvedProvider, translateContext } from '../../../test/helpers/provider_context.ts';
import { listPresets } from './presets.ts';
import { findTranslator } from './registry.ts';
import type { ClientApi, Translator } from './types.ts';

const CLIENT_APIS: ClientApi[] = [
  'openai-chat',
  'openai-completions',
  'openai-embeddings',
  'anthropic-messages',
];

const claimants: Array<[string, Translator]> = CLIENT_APIS.flatMap((api) =>
  (['openai', 'anthropic', 'gemini', 'bedrock'] as const).flatMap((backend) => {
    const t = findTranslator(api, backend);
    return t?.leavesBodyIntact ? [[`${api}->${backend}`, t] as [string, Translator]] : [];
  }),
);

const bodies = fc.record(
  {
    model: fc.constant('m'),
    messages: fc.array(fc.record({ role: fc.constantFrom('user', 'system'), content: fc.string() }), {
      maxLength: 3,
    }),
    prompt: fc.string(),
    input: fc.string(),
    max_tokens: fc.integer({ min: 1, max: 4096 }),
    max_completion_tokens: fc.integer({ min: 1, max: 4096 }),
    stream_options: fc.record({ include_usage: fc.boolean() }, { requiredKeys: [] }),
    metadata: fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 2 })),
  },
  { requiredKeys: ['model'] },
);

describe('translators that declare leavesBodyIntact', () => {
  it('include the OpenAI passthrough (the hot path)', () => {
    expect(claimants.map(([name]) => name)).toContain('openai-chat->openai');
  });

  it.each(claimants)('%s never changes the body it is given', async (_name, translator) => {
    const presets = listPresets().filter((p) => p.api === translator.backendApi && p.transport === 'http');
    expect(presets.length).toBeGreaterThan(0);
    await fc.assert(
      fc.asyncProperty(bodies, fc.boolean(), fc.constantFrom(...presets), async (body, stream, preset) => {
        const provider = resolvedProvider(preset.type, {
          baseUrl: 'https://upstream.example/v1',
          region: 'us-east-1',
          credentials: { apiKey: 'k', accessKeyId: 'a', secretAccessKey: 's' },
        });
        const before = structuredClone(body);
        const ctx = translateContext(provider, { stream, clientApi: translator.clientApi });
        try {
          await translator.buildRequest(body, ctx);
        } catch {
          // a 400 for an unsupported feature is fine; what matters is the body afterwards
        }
        expect(body).toEqual(before);
      }),
      { numRuns: 150 },
    );
  });
});
