// OpenAI client -> OpenAI-compatible backend (OpenAI, Azure, every OpenAI-compatible preset, the mock).
// Passthrough: upstream bytes reach the client unchanged; frames are parsed only to read text and usage.
// The one rewrite: Sluice asks for stream usage (include_usage) so it can account exactly, and strips
// the usage-only chunk again when the client did not ask for it.
import { openaiErrorJSON } from '../../api/openai_error.ts';
import { GatewayError } from '../../errors.ts';
import { ChunkReader } from '../../wire/openai/chunk_reader.ts';
import { parseOpenAIError } from '../../wire/openai/error.ts';
import { shortToolCallIds } from '../../wire/openai/request.ts';
import { trimmedDelta } from '../../wire/openai/trimmed_delta.ts';
import { fromOpenAIUsage, type OpenAIUsage, toOpenAIUsage } from '../../wire/openai/usage.ts';
import { type SseFrame, SseParser, sseData } from '../../wire/sse.ts';
import { midStreamFailure } from '../../wire/upstream_json.ts';
import { jsonRequestHeaders, upstreamPath } from '../request_parts.ts';
import type {
  ClientApi,
  StreamEvent,
  StreamTranslator,
  TranslateContext,
  TranslatedResponse,
  Translator,
  UpstreamRequest,
  Usage,
} from '../types.ts';

interface OpenAIChunk {
  id?: string;
  model?: string;
  created?: number;
  object?: string;
  choices?: Array<{
    index?: number;
    delta?: {
      content?: string | null;
      reasoning_content?: string | null;
      tool_calls?: Array<{ function?: { arguments?: string } }>;
    };
    text?: string;
    finish_reason?: string | null;
    usage?: OpenAIUsage | null;
  }>;
  usage?: OpenAIUsage | null;
  error?: unknown;
}

/** true when any message carries an image part (OpenAI's vision input) */
function hasImages(body: Record<string, unknown>): boolean {
  const messages = body.messages;
  if (!Array.isArray(messages)) return false;
  return messages.some(
    (m) =>
      Array.isArray((m as { content?: unknown }).content) &&
      ((m as { content: unknown[] }).content as Array<{ type?: unknown }>).some(
        (p) => p?.type === 'image_url',
      ),
  );
}

function checkUnsupported(body: Record<string, unknown>, ctx: TranslateContext): void {
  const unsupported = ctx.provider.preset.quirks?.unsupported;
  if (!unsupported) return;
  const feature =
    unsupported.includes('embeddings') && ctx.clientApi === 'openai-embeddings'
      ? 'embeddings'
      : unsupported.includes('completions') && ctx.clientApi === 'openai-completions'
        ? 'legacy completions (/v1/completions)'
        : unsupported.includes('tools') && body.tools !== undefined
          ? 'tools'
          : unsupported.includes('json') && body.response_format !== undefined
            ? 'response_format'
            : unsupported.includes('vision') && hasImages(body)
              ? 'image input'
              : undefined;
  if (feature) {
    throw new GatewayError(
      'SLUICE_ERR_UNSUPPORTED_FEATURE',
      `provider '${ctx.provider.name}' (${ctx.provider.preset.displayName}) does not support ${feature}`,
      { param: feature === 'tools' || feature === 'response_format' ? feature : undefined },
    );
  }
}

function buildRequest(body: Record<string, unknown>, ctx: TranslateContext): UpstreamRequest {
  checkUnsupported(body, ctx);
  const out: Record<string, unknown> = { ...body, model: ctx.upstreamModel };
  const quirks = ctx.provider.preset.quirks;
  if (ctx.stream && ctx.clientApi !== 'openai-embeddings' && !quirks?.noStreamOptions) {
    const so = (body.stream_options as Record<string, unknown> | undefined) ?? {};
    out.stream_options = { ...so, include_usage: true };
  }
  if (
    quirks?.maxCompletionTokens &&
    out.max_tokens !== undefined &&
    out.max_completion_tokens === undefined
  ) {
    out.max_completion_tokens = out.max_tokens;
    delete out.max_tokens;
  }
  if (quirks?.legacyMaxTokens && out.max_completion_tokens !== undefined) {
    out.max_tokens ??= out.max_completion_tokens;
    delete out.max_completion_tokens;
  }
  // ids another provider made in earlier turns (Gemini's carry their thought signature): OpenAI
  // answered 400 "string too long" to the whole conversation
  if (quirks?.maxToolCallIdLength !== undefined && Array.isArray(body.messages)) {
    const messages = shortToolCallIds(body.messages, quirks.maxToolCallIdLength);
    if (messages) out.messages = messages;
  }
  return {
    method: 'POST',
    path: upstreamPath(ctx.provider, ctx.clientApi, ctx.upstreamModel),
    headers: jsonRequestHeaders(ctx.provider, ctx.stream),
    body: JSON.stringify(out),
  };
}

/**
 * The client gets the upstream's bytes as they are; only usage and the finish reason are read here.
 * JSON's structure is ASCII, so the body decoded as latin1 (one char per byte) is valid JSON exactly
 * when its UTF-8 decoding is, with the same structure and the same ASCII values; and it is a one-byte
 * string, where UTF-8 text with any non-ASCII character becomes a two-byte one twice the body's size.
 */
function parseResponse(body: Buffer, _ctx: TranslateContext): TranslatedResponse {
  let parsed: OpenAIChunk;
  try {
    parsed = JSON.parse(body.toString('latin1')) as OpenAIChunk;
  } catch (err) {
    throw new GatewayError('SLUICE_ERR_UPSTREAM_ERROR', 'upstream returned a body that is not valid JSON', {
      cause: err,
    });
  }
  return {
    body,
    usage: fromOpenAIUsage(parsed.usage),
    finishReason: utf8Of(parsed.choices?.[0]?.finish_reason),
  };
}

/** A string read from a latin1-decoded body, as the UTF-8 text it was (ASCII, nearly always, as is). */
function utf8Of(s: unknown): string | undefined {
  if (typeof s !== 'string') return undefined;
  for (let i = 0; i < s.length; i++)
    if (s.charCodeAt(i) > 0x7f) return Buffer.from(s, 'latin1').toString('utf8');
  return s;
}

class OpenAIStream implements StreamTranslator {
  readonly #ctx: TranslateContext;
  readonly #sse = new SseParser();
  readonly #reader = new ChunkReader();
  #id = 'chatcmpl-sluice';
  #model: string;
  #created = Math.floor(Date.now() / 1000);
  #sawDone = false;
  #sawFinish = false;
  /** the cut chunk a cap's trimmed delta was written for */
  #cutTrimmed: StreamEvent | undefined;

  constructor(ctx: TranslateContext) {
    this.#ctx = ctx;
    this.#model = ctx.clientModel;
  }

  push(chunk: Buffer): StreamEvent[] {
    return this.#frames(this.#sse.push(chunk));
  }

  end(): StreamEvent[] {
    const events = this.#frames(this.#sse.end());
    if (this.#sawDone) return events;
    if (this.#sawFinish) {
      // Some compatible servers omit the terminator; the answer itself completed, so close it properly.
      events.push({ data: 'data: [DONE]\n\n', done: true });
      return events;
    }
    throw new GatewayError(
      'SLUICE_ERR_UPSTREAM_ERROR',
      `provider '${this.#ctx.provider.name}' ended the stream before the answer was complete`,
    );
  }

  #frames(frames: SseFrame[]): StreamEvent[] {
    const events: StreamEvent[] = [];
    const reader = this.#reader;
    for (const f of frames) {
      if (f.data === '[DONE]') {
        this.#sawDone = true;
        events.push({ data: f.raw, done: true });
      } else if (
        f.dataStart === undefined
          ? reader.read(f.data, 0, f.data.length)
          : reader.read(f.raw, f.dataStart, f.dataStart + f.data.length)
      ) {
        // a plain delta (no usage, error, tool call or finish): what the full parse would give, cheaply
        if (reader.id) this.#id = reader.id;
        if (reader.model) this.#model = reader.model;
        if (reader.created) this.#created = reader.created;
        const ev: StreamEvent = { data: f.raw };
        if (reader.text) ev.text = reader.text;
        events.push(ev);
      } else events.push(this.#parsed(f));
    }
    return events;
  }

  /** Any frame, by a full JSON.parse: the reference the scanner's shortcut must agree with. */
  #parsed(f: SseFrame): StreamEvent {
    let chunk: OpenAIChunk;
    try {
      chunk = JSON.parse(f.data) as OpenAIChunk;
    } catch (err) {
      throw new GatewayError(
        'SLUICE_ERR_UPSTREAM_ERROR',
        `provider '${this.#ctx.provider.name}' sent a malformed stream event`,
        {
          cause: err,
        },
      );
    }
    // `"error": null` on every chunk (some compatible servers send it) is no error
    if (chunk.error !== undefined && chunk.error !== null) {
      const info = parseOpenAIError(502, Buffer.from(f.data));
      throw midStreamFailure(this.#ctx.provider.name, info.message, info);
    }
    if (chunk.id) this.#id = chunk.id;
    if (chunk.model) this.#model = chunk.model;
    if (chunk.created) this.#created = chunk.created;
    const choice = chunk.choices?.[0];
    let text: string | undefined;
    if (choice) {
      text = choice.delta?.content ?? choice.text ?? undefined;
      const extra = choice.delta?.reasoning_content ?? undefined;
      const args = choice.delta?.tool_calls?.map((c) => c.function?.arguments ?? '').join('');
      if (extra || args) text = (text ?? '') + (extra ?? '') + (args ?? '');
      if (choice.finish_reason) this.#sawFinish = true;
    }
    // some compatible servers (Moonshot) put the final usage inside the choice instead of the chunk
    const usage = fromOpenAIUsage(chunk.usage ?? choice?.usage);
    let data: string = f.raw;
    if (usage && !this.#ctx.clientWantsStreamUsage) {
      if (!chunk.choices || chunk.choices.length === 0) data = '';
      else {
        delete chunk.usage;
        data = sseData(JSON.stringify(chunk));
      }
    }
    const ev: StreamEvent = { data };
    if (text) ev.text = text;
    if (usage) ev.usage = usage;
    return ev;
  }

  #chunk(choice: Record<string, unknown> | undefined, usage?: Usage): string {
    const completions = this.#ctx.clientApi === 'openai-completions';
    const body: Record<string, unknown> = {
      id: this.#id,
      object: completions ? 'text_completion' : 'chat.completion.chunk',
      created: this.#created,
      model: this.#model,
      choices: choice ? [choice] : [],
    };
    if (usage) body.usage = toOpenAIUsage(usage);
    return sseData(JSON.stringify(body));
  }

  textChunk(text: string, cut?: StreamEvent): string {
    const completions = this.#ctx.clientApi === 'openai-completions';
    if (completions) return this.#chunk({ index: 0, text, finish_reason: null });
    // the allowed text in the fields it came in (content, reasoning, tool arguments), role kept
    const trimmed = cut ? trimmedDelta(String(cut.data), text) : undefined;
    if (trimmed) this.#cutTrimmed = cut;
    const { index, delta } = trimmed ?? { index: 0, delta: { content: text } };
    return this.#chunk({ index, delta, finish_reason: null });
  }

  finish(reason: 'length', usage: Usage, cut?: StreamEvent): string {
    const completions = this.#ctx.clientApi === 'openai-completions';
    // none of the cut chunk was allowed: the role it announced comes with the finish
    const untrimmed = cut && cut !== this.#cutTrimmed ? trimmedDelta(String(cut.data), '') : undefined;
    const last = completions
      ? { index: 0, text: '', finish_reason: reason }
      : { index: untrimmed?.index ?? 0, delta: untrimmed?.delta ?? {}, finish_reason: reason };
    // The usage chunk (empty choices) only when the client asked for it: the usual client loop reads
    // chunk.choices[0].delta and breaks on a chunk it did not request.
    const usageChunk = this.#ctx.clientWantsStreamUsage ? this.#chunk(undefined, usage) : '';
    return `${this.#chunk(last)}${usageChunk}data: [DONE]\n\n`;
  }

  errorEvent(err: GatewayError): string {
    return sseData(openaiErrorJSON(err));
  }
}

function make(clientApi: ClientApi): Translator {
  return {
    clientApi,
    backendApi: 'openai',
    // buildRequest copies what it changes ({...body}, a new stream_options) and edits only the copy
    leavesBodyIntact: true,
    buildRequest,
    parseResponse,
    createStream: (ctx) => new OpenAIStream(ctx),
    parseError: (status, body) => parseOpenAIError(status, body),
  };
}

export const openaiToOpenai: Translator[] = [
  make('openai-chat'),
  make('openai-completions'),
  make('openai-embeddings'),
];
