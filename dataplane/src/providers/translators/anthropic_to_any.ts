// Anthropic client -> a backend reached through its OpenAI-chat translator (Gemini, Bedrock), by
// composition instead of a third copy of the conversions: the Anthropic request becomes an OpenAI chat
// request with the anthropic->openai translator's own conversion, the backend translator turns that
// into its wire format, and on the way back the backend's OpenAI chat response (or chunk stream) is
// turned into Anthropic's message (or event stream) by the anthropic->openai translator again.
// Usage for accounting comes from the backend translator (it keeps cache-write tokens that the OpenAI
// shape in between cannot carry).
import {
  type OpenAICompletion,
  openaiCompletionToAnthropic,
} from '../../wire/anthropic/from_openai_completion.ts';
import type { BackendApi, TranslateContext, TranslatedResponse, Translator } from '../types.ts';
import { anthropicToOpenAI, openAIChatFor } from './anthropic_to_openai.ts';
import { ANTHROPIC_NAMES, inClientTerms } from './client_params.ts';
import { ComposedStream } from './composed_stream.ts';

/** The context the inner (OpenAI chat -> backend) translator sees: it always emits stream usage. */
function innerContext(ctx: TranslateContext): TranslateContext {
  return { ...ctx, clientApi: 'openai-chat', clientWantsStreamUsage: true };
}

/** Per request: the inner context, so buildRequest, parseResponse and createStream share its state. */
const inner = new WeakMap<TranslateContext, TranslateContext>();

function innerOf(ctx: TranslateContext): TranslateContext {
  let c = inner.get(ctx);
  if (!c) {
    c = innerContext(ctx);
    inner.set(ctx, c);
  }
  return c;
}

/** An `anthropic-messages -> backend` translator built from the backend's `openai-chat` translator. */
export function anthropicVia(openaiChatToBackend: Translator): Translator {
  const backendApi: BackendApi = openaiChatToBackend.backendApi;
  return {
    clientApi: 'anthropic-messages',
    backendApi,
    async buildRequest(body, ctx) {
      // the anthropic->openai translator's conversion (which records the input estimate for ctx)
      const origins: string[] = [];
      const chat = openAIChatFor(body, ctx, origins);
      // as JSON would carry it (no undefined members), as the backend translators expect
      const openaiBody = JSON.parse(JSON.stringify(chat)) as Record<string, unknown>;
      delete openaiBody.stream_options;
      try {
        return await openaiChatToBackend.buildRequest(openaiBody, innerOf(ctx));
      } catch (err) {
        // the backend translator's refusal names chat fields; the client sent Anthropic's
        throw inClientTerms(err, origins, ANTHROPIC_NAMES);
      }
    },
    parseResponse(body, ctx): TranslatedResponse {
      const mid = openaiChatToBackend.parseResponse(body, innerOf(ctx));
      if (!mid.usage) {
        // no upstream usage: the anthropic->openai translator estimates it the same way it always does
        const out = anthropicToOpenAI.parseResponse(Buffer.from(mid.body), ctx);
        return { ...out, finishReason: mid.finishReason };
      }
      const completion = JSON.parse(mid.body.toString()) as OpenAICompletion;
      const message = openaiCompletionToAnthropic(completion, {
        model: completion.model ?? ctx.clientModel,
        fallbackId: ctx.requestId,
        provider: ctx.provider.name,
        usage: mid.usage,
      });
      return { body: JSON.stringify(message), usage: mid.usage, finishReason: mid.finishReason };
    },
    createStream: (ctx) =>
      new ComposedStream(openaiChatToBackend.createStream(innerOf(ctx)), anthropicToOpenAI.createStream(ctx)),
    parseError: (status, body, ctx, headers) =>
      openaiChatToBackend.parseError(status, body, innerOf(ctx), headers),
  };
}
