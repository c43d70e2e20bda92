// OpenAI client -> Gemini (generativelanguage v1beta): chat via generateContent /
// streamGenerateContent?alt=sse, embeddings via batchEmbedContents. Auth is the x-goog-api-key header.
// Gemini's stream has no terminator: each SSE event is a whole GenerateContentResponse, the last one
// carries finishReason, and usageMetadata (cumulative, so the latest wins) may come only at the end.
import { GatewayError } from '../../errors.ts';
import { countTokens } from '../../tokens/counter.ts';
import { toGeminiRequest } from '../../wire/gemini/from_openai.ts';
import {
  choicesOf,
  finishReason,
  type GeminiResponse,
  geminiUsage,
  parseGeminiError,
  toolCallOf,
} from '../../wire/gemini/to_openai.ts';
import { invalid, unsupported } from '../../wire/openai/request.ts';
import { chatCompletionBody, OpenAIChunkStream } from '../../wire/openai/response.ts';
import { SseParser } from '../../wire/sse.ts';
import { midStreamFailure, parseUpstreamJson, typeForStatus } from '../../wire/upstream_json.ts';
import { checkedUsage } from '../../wire/usage_check.ts';
import { authHeaders, JSON_HEADERS, jsonRequestHeaders, upstreamPath } from '../request_parts.ts';
import type {
  StreamEvent,
  TranslateContext,
  TranslatedResponse,
  Translator,
  UpstreamRequest,
  Usage,
} from '../types.ts';

/** Gemini model names may be written with their resource prefix; paths take the bare id. */
export function geminiModel(model: string): string {
  return model.startsWith('models/') ? model.slice('models/'.length) : model;
}

export function geminiChatRequest(req: Record<string, unknown>, ctx: TranslateContext): UpstreamRequest {
  const model = geminiModel(ctx.upstreamModel);
  return {
    method: 'POST',
    path: upstreamPath(ctx.provider, ctx.stream ? 'stream' : 'openai-chat', model),
    headers: jsonRequestHeaders(ctx.provider, ctx.stream),
    body: JSON.stringify(req),
  };
}

function parseChat(body: Buffer, ctx: TranslateContext): TranslatedResponse {
  const r = parseUpstreamJson<GeminiResponse>(body, ctx.provider.name);
  const choices = choicesOf(r);
  const usage = geminiUsage(r.usageMetadata);
  const id = `chatcmpl-${r.responseId ?? ctx.requestId}`;
  return {
    body: chatCompletionBody(id, r.modelVersion ?? ctx.upstreamModel, choices, usage),
    usage,
    finishReason: choices[0]?.finishReason,
  };
}

export class GeminiChatStream extends OpenAIChunkStream {
  readonly #sse = new SseParser();
  /** tool calls seen so far, per candidate (OpenAI numbers them per choice) */
  readonly #tools = new Map<number, number>();
  #finished = false;

  protected read(chunk: Buffer, out: StreamEvent[]): void {
    this.#frames(this.#sse.push(chunk), out);
  }

  protected close(out: StreamEvent[]): void {
    this.#frames(this.#sse.end(), out);
    if (!this.#finished) {
      throw new GatewayError(
        'SLUICE_ERR_UPSTREAM_ERROR',
        `provider '${this.ctx.provider.name}' ended the stream before the answer was complete`,
      );
    }
    out.push(this.emitDone());
  }

  #frames(frames: ReturnType<SseParser['push']>, events: StreamEvent[]): void {
    for (const f of frames) {
      if (f.data === '') continue;
      let r: GeminiResponse;
      try {
        r = JSON.parse(f.data) as GeminiResponse;
      } catch (err) {
        throw new GatewayError(
          'SLUICE_ERR_UPSTREAM_ERROR',
          `provider '${this.ctx.provider.name}' sent a malformed stream event`,
          { cause: err },
        );
      }
      if (r.error) {
        const status = typeof r.error.code === 'number' && r.error.code >= 400 ? r.error.code : 502;
        throw midStreamFailure(this.ctx.provider.name, r.error.message ?? r.error.status ?? 'error', {
          type: typeForStatus(status),
          code: r.error.status ?? null,
        });
      }
      if (r.responseId) this.id = `chatcmpl-${r.responseId}`;
      if (r.modelVersion) this.model = r.modelVersion;
      const usage = geminiUsage(r.usageMetadata);
      if (usage) this.usage = usage;
      events.push(...this.#candidates(r));
      // usage rides on an event with no bytes so the core accounts it even if the client never asked
      if (usage) events.push({ data: '', usage });
    }
  }

  #candidates(r: GeminiResponse): StreamEvent[] {
    const events: StreamEvent[] = [];
    const candidates = r.candidates ?? [];
    if (candidates.length === 0 && r.promptFeedback?.blockReason) {
      this.#finished = true;
      events.push(this.emitFinish(0, 'content_filter'));
    }
    candidates.forEach((c, i) => {
      const index = c.index ?? i;
      for (const p of c.content?.parts ?? []) {
        const call = toolCallOf(p);
        if (call) {
          const n = this.#tools.get(index) ?? 0;
          this.#tools.set(index, n + 1);
          events.push(this.emitToolStart(index, n, call.id, call.name, call.arguments));
        } else if (typeof p.text === 'string' && p.text !== '') {
          events.push(p.thought ? this.emitReasoning(index, p.text) : this.emitText(index, p.text));
        }
      }
      if (c.finishReason) {
        this.#finished = true;
        events.push(this.emitFinish(index, finishReason(c.finishReason, (this.#tools.get(index) ?? 0) > 0)));
      }
    });
    return events;
  }
}

// --- embeddings -----------------------------------------------------------------------------------

/** Inputs of each request, so the response can report the prompt tokens Gemini does not count. */
const embeddingInputs = new WeakMap<TranslateContext, string[]>();

const MAX_BATCH_EMBED = 100;

function embeddingRequest(body: Record<string, unknown>, ctx: TranslateContext): UpstreamRequest {
  const input = body.input;
  const texts = typeof input === 'string' ? [input] : (input as unknown[]);
  if (!texts.every((t) => typeof t === 'string'))
    unsupported(ctx, 'token-array embedding input (send text)', 'input');
  // batchEmbedContents takes at most 100 requests (OpenAI takes 2048 inputs)
  if (texts.length > MAX_BATCH_EMBED)
    unsupported(ctx, `more than ${MAX_BATCH_EMBED} embedding inputs in one request`, 'input');
  if (
    body.encoding_format !== undefined &&
    body.encoding_format !== 'float' &&
    body.encoding_format !== 'base64'
  )
    invalid('encoding_format', "'encoding_format' must be float or base64");
  const model = geminiModel(ctx.upstreamModel);
  const dims = body.dimensions;
  const requests = (texts as string[]).map((text) => {
    const r: Record<string, unknown> = { model: `models/${model}`, content: { parts: [{ text }] } };
    if (typeof dims === 'number') r.outputDimensionality = dims;
    return r;
  });
  embeddingInputs.set(ctx, texts as string[]);
  return {
    method: 'POST',
    path: upstreamPath(ctx.provider, 'openai-embeddings', model),
    headers: { ...JSON_HEADERS, ...authHeaders(ctx.provider) },
    body: JSON.stringify({ requests }),
  };
}

/** OpenAI's base64 embedding format: little-endian float32, as the openai SDK requests by default. */
function base64Floats(values: number[]): string {
  const buf = Buffer.alloc(values.length * 4);
  for (let i = 0; i < values.length; i++) buf.writeFloatLE(values[i] as number, i * 4);
  return buf.toString('base64');
}

function parseEmbeddings(body: Buffer, ctx: TranslateContext, base64: boolean): TranslatedResponse {
  const r = parseUpstreamJson<{
    embeddings?: Array<{ values?: number[] }>;
    usageMetadata?: { promptTokenCount?: number };
  }>(body, ctx.provider.name);
  if (!Array.isArray(r.embeddings))
    throw new GatewayError(
      'SLUICE_ERR_UPSTREAM_ERROR',
      `provider '${ctx.provider.name}' returned no embeddings`,
    );
  const data = r.embeddings.map((e, index) => ({
    object: 'embedding',
    index,
    embedding: base64 ? base64Floats(e.values ?? []) : (e.values ?? []),
  }));
  // a count of the wrong type or size is not charged: Sluice counts the inputs as for none
  const reported = r.usageMetadata?.promptTokenCount;
  const texts = embeddingInputs.get(ctx) ?? [];
  const usage: Usage = (reported !== undefined &&
    checkedUsage({ inputTokens: reported, outputTokens: 0 })) || {
    inputTokens: texts.reduce((n, t) => n + countTokens(t, 'estimate'), 0),
    outputTokens: 0,
    estimated: true,
  };
  return {
    body: JSON.stringify({
      object: 'list',
      data,
      model: ctx.upstreamModel,
      usage: { prompt_tokens: usage.inputTokens, total_tokens: usage.inputTokens },
    }),
    usage,
  };
}

/** Remembers per request whether the client asked for base64 vectors. */
const wantsBase64 = new WeakSet<TranslateContext>();

export const openaiChatToGemini: Translator = {
  clientApi: 'openai-chat',
  backendApi: 'gemini',
  buildRequest: (body, ctx) => geminiChatRequest(toGeminiRequest(body, ctx), ctx),
  parseResponse: parseChat,
  createStream: (ctx) => new GeminiChatStream(ctx),
  parseError: (status, body) => parseGeminiError(status, body),
};

export const openaiEmbeddingsToGemini: Translator = {
  clientApi: 'openai-embeddings',
  backendApi: 'gemini',
  buildRequest(body, ctx) {
    if (body.encoding_format === 'base64') wantsBase64.add(ctx);
    return embeddingRequest(body, ctx);
  },
  parseResponse: (body, ctx) => parseEmbeddings(body, ctx, wantsBase64.has(ctx)),
  createStream() {
    throw new GatewayError('SLUICE_ERR_INVALID_REQUEST', 'embeddings cannot be streamed');
  },
  parseError: (status, body) => parseGeminiError(status, body),
};

export const openaiToGemini: Translator[] = [openaiChatToGemini, openaiEmbeddingsToGemini];
