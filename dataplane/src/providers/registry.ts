// The one place a translator is chosen: (client API, backend API) -> translator.
// A pair that is not registered is unsupported; the core turns that into a 400 naming the provider.
//
// Layout (docs/architecture.md, "Where the code lives"): one file per pair,
// translators/<client>_to_<backend>.ts (client: openai | anthropic | responses; backend: openai |
// anthropic | gemini | bedrock), its unit tests beside it; `<client>_to_any.ts` composes a client API
// over any backend's openai-chat translator. Wire formats (types, pure converters, framing, signing)
// live in dataplane/src/wire/<format>/, never here.
import { guardedTranslator } from './guarded_translator.ts';
import { anthropicToAnthropic } from './translators/anthropic_to_anthropic.ts';
import { anthropicToBedrock } from './translators/anthropic_to_bedrock.ts';
import { anthropicToGemini } from './translators/anthropic_to_gemini.ts';
import { anthropicToOpenAI } from './translators/anthropic_to_openai.ts';
import { openaiToAnthropic } from './translators/openai_to_anthropic.ts';
import { openaiToBedrock } from './translators/openai_to_bedrock.ts';
import { openaiToGemini } from './translators/openai_to_gemini.ts';
import { openaiToOpenai } from './translators/openai_to_openai.ts';
import { responsesVia } from './translators/responses_to_any.ts';
import { responsesToOpenAI } from './translators/responses_to_openai.ts';
import type { BackendApi, ClientApi, Translator } from './types.ts';

const translators = new Map<string, Translator>();
/** as registered, for composing (responsesVia) without guarding twice */
const unguarded = new Map<string, Translator>();

/** Registered translators read upstream answers through guardedTranslator (an unreadable one is a 502). */
export function registerTranslator(t: Translator): void {
  unguarded.set(`${t.clientApi}->${t.backendApi}`, t);
  translators.set(`${t.clientApi}->${t.backendApi}`, guardedTranslator(t));
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
  const chat = unguarded.get(`openai-chat->${backend}`);
  if (!chat) continue;
  const via = responsesVia(chat);
  registerTranslator(backend === 'openai' ? responsesToOpenAI(via) : via);
}

/** The translator for a pair, or undefined when the pair is unsupported. */
export function findTranslator(client: ClientApi, backend: BackendApi): Translator | undefined {
  return translators.get(`${client}->${backend}`);
}
