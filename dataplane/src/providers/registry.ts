// The one place a translator is chosen: (client API, backend API) -> translator.
// A pair that is not registered is unsupported; the core turns that into a 400 naming the provider.
import { anthropicToAnthropic } from './anthropic_anthropic.ts';
import { anthropicToBedrock } from './anthropic_bedrock.ts';
import { anthropicToGemini } from './anthropic_gemini.ts';
import { anthropicToOpenAI } from './anthropic_openai.ts';
import { openaiToAnthropic } from './openai_anthropic.ts';
import { openaiToBedrock } from './openai_bedrock.ts';
import { openaiToGemini } from './openai_gemini.ts';
import { openaiToOpenai } from './openai_openai.ts';
import { responsesToOpenAI } from './responses_openai.ts';
import { responsesVia } from './responses_via_chat.ts';
import type { BackendApi, ClientApi, Translator } from './types.ts';

const translators = new Map<string, Translator>();

export function registerTranslator(t: Translator): void {
  translators.set(`${t.clientApi}->${t.backendApi}`, t);
}

for (const t of openaiToOpenai) registerTranslator(t);
for (const t of openaiToGemini) registerTranslator(t);
for (const t of openaiToBedrock) registerTranslator(t);
registerTranslator(openaiToAnthropic);
registerTranslator(anthropicToAnthropic);
registerTranslator(anthropicToOpenAI);
registerTranslator(anthropicToGemini);
registerTranslator(anthropicToBedrock);

// The Responses API reaches every backend through its openai-chat translator (and OpenAI-family
// providers that serve it natively directly).
for (const backend of ['openai', 'anthropic', 'gemini', 'bedrock'] as const) {
  const chat = translators.get(`openai-chat->${backend}`);
  if (!chat) continue;
  const via = responsesVia(chat);
  registerTranslator(backend === 'openai' ? responsesToOpenAI(via) : via);
}

/** The translator for a pair, or undefined when the pair is unsupported. */
export function findTranslator(client: ClientApi, backend: BackendApi): Translator | undefined {
  return translators.get(`${client}->${backend}`);
}
