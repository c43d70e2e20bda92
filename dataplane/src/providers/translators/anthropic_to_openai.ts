// Anthropic client (POST /v1/messages) -> OpenAI-compatible backend (OpenAI, every compatible preset,
// the built-in mock). The request and response are translated both ways; a stream of OpenAI chunks
// becomes the full Anthropic event sequence. OpenAI reports usage only at the end of a stream, so
// message_start carries Sluice's estimate of the input tokens and message_delta the exact totals
// (Anthropic SDKs take message_delta's cumulative input_tokens as final).
import { GatewayError } from '../../errors.ts';
import { countTokens, encodingForModel, promptTokensWithoutBlocking } from '../../tokens/counter.ts';
import { anthropicErrorFrame } from '../../wire/anthropic/error.ts';
import { AnthropicEventWriter, type WriterState } from '../../wire/anthropic/events.ts';
import {
  anthropicPromptText,
  finishToAnthropicStop,
  HeldFailure,
  unsupportedFeature,
} from '../../wire/anthropic/format.ts';
import {
  anthropicMessageId,
  type OpenAICompletion,
  openaiCompletionToAnthropic,
  openaiCompletionUsage,
} from '../../wire/anthropic/from_openai_completion.ts';
import { anthropicToOpenAIChat } from '../../wire/anthropic/to_openai.ts';
import { parseOpenAIError } from '../../wire/openai/error.ts';
import { fromOpenAIUsage, type OpenAIUsage } from '../../wire/openai/usage.ts';
import { type SseFrame, SseParser } from '../../wire/sse.ts';
import { ToolCallSequencer } from '../../wire/tool_sequence.ts';
import { midStreamFailure, parseUpstreamJson } from '../../wire/upstream_json.ts';
import { jsonRequestHeaders, upstreamPath } from '../request_parts.ts';
import type {
  StreamEvent,
  StreamTranslator,
  TranslateContext,
  TranslatedResponse,
  Translator,
  UpstreamRequest,
  Usage,
} from '../types.ts';

/** Input tokens estimated at buildRequest, keyed by the attempt's context (shared with createStream). */
const inputEstimates = new WeakMap<TranslateContext, number>();

/**
 * The OpenAI chat body for an Anthropic request, with this attempt's input estimate recorded
 * (`origins`: filled with the Anthropic path each chat message came from, for anthropic_to_any.ts).
 */
export function openAIChatFor(
  body: Record<string, unknown>,
  ctx: TranslateContext,
  origins?: string[],
): Record<string, unknown> {
  const quirks = ctx.provider.preset.quirks;
  const out = anthropicToOpenAIChat(body, {
    model: ctx.upstreamModel,
    unsupported: (feature, param) => unsupportedFeature(ctx, feature, param),
    streamUsage: !quirks?.noStreamOptions,
    maxCompletionTokens: quirks?.maxCompletionTokens,
    presetUnsupported: quirks?.unsupported,
    maxStopSequences: quirks?.maxStopSequences,
    maxToolNameLength: quirks?.maxToolNameLength,
    origins,
  });
  // message_start carries this before the upstream's usage arrives: counted with the model's tokenizer
  // (exact for OpenAI-family models; never tokenized inline when the prompt is large)
  const turns = (Array.isArray(body.messages) ? body.messages.length : 0) + (body.system ? 1 : 0);
  const encoding = encodingForModel(ctx.upstreamModel, ctx.provider.models.get(ctx.upstreamModel)?.tokenizer);
  inputEstimates.set(ctx, promptTokensWithoutBlocking(anthropicPromptText(body), turns, encoding));
  return out;
}

function buildRequest(body: Record<string, unknown>, ctx: TranslateContext): UpstreamRequest {
  const out = openAIChatFor(body, ctx);
  return {
    method: 'POST',
    path: upstreamPath(ctx.provider, 'openai-chat', ctx.upstreamModel),
    headers: jsonRequestHeaders(ctx.provider, ctx.stream),
    body: JSON.stringify(out),
  };
}

function estimatedUsage(ctx: TranslateContext, outputText: string): Usage {
  return {
    inputTokens: inputEstimates.get(ctx) ?? 0,
    outputTokens: countTokens(outputText, 'estimate'),
    estimated: true,
  };
}

function parseResponse(body: Buffer, ctx: TranslateContext): TranslatedResponse {
  const c = parseUpstreamJson<OpenAICompletion>(body, ctx.provider.name);
  const msg = c.choices?.[0]?.message;
  const usage =
    openaiCompletionUsage(c) ??
    estimatedUsage(
      ctx,
      (msg?.content ?? '') + (msg?.tool_calls ?? []).map((t) => t.function?.arguments ?? '').join(''),
    );
  const out = openaiCompletionToAnthropic(c, {
    model: c.model ?? ctx.clientModel,
    fallbackId: ctx.requestId,
    provider: ctx.provider.name,
    usage,
  });
  return { body: JSON.stringify(out), usage, finishReason: c.choices?.[0]?.finish_reason ?? undefined };
}

interface OpenAIChunk {
  id?: string;
  model?: string;
  choices?: Array<{
    delta?: {
      content?: string | null;
      tool_calls?: Array<{ index?: number; id?: string; function?: { name?: string; arguments?: string } }>;
    };
    finish_reason?: string | null;
  }>;
  usage?: OpenAIUsage | null;
  error?: unknown;
}

/** What a text-carrying event changed, so a cap that cuts it can resume from the state before it. */
interface CutInfo {
  before: WriterState;
  /** tool_args: sent in the open tool block; held: kept back for a later block (a cut drops it) */
  kind: 'text' | 'tool_args' | 'held';
}

class OpenAIToAnthropicStream implements StreamTranslator {
  readonly #ctx: TranslateContext;
  readonly #sse = new SseParser();
  readonly #held = new HeldFailure();
  readonly #w = new AnthropicEventWriter();
  readonly #cuts = new WeakMap<StreamEvent, CutInfo>();
  /** parallel tool calls whose fragments may interleave, sent as sequential blocks */
  readonly #tools: ToolCallSequencer;
  #finish: string | null = null;
  #usage: Usage | undefined;
  #output = '';
  #done = false;

  constructor(ctx: TranslateContext) {
    this.#ctx = ctx;
    const w = this.#w;
    const sink = {
      toolOpen: () => w.openKind === 'tool_use',
      start: (_index: number, id: string, name: string) => w.toolStart(id, name),
      args: (_index: number, text: string) => w.toolArgs(text),
      close: () => w.close(),
    };
    this.#tools = new ToolCallSequencer(sink, (index) => `toolu_${ctx.requestId}_${index}`);
  }

  push(chunk: Buffer): StreamEvent[] {
    return this.#held.run(false, (events) => this.#frames(this.#sse.push(chunk), events));
  }

  end(): StreamEvent[] {
    const events = this.#held.run(true, (out) => this.#frames(this.#sse.end(), out));
    if (this.#done) return events;
    if (this.#finish !== null) {
      // some compatible servers omit [DONE]; the answer itself completed
      events.push(this.#final());
      return events;
    }
    throw new GatewayError(
      'SLUICE_ERR_UPSTREAM_ERROR',
      `provider '${this.#ctx.provider.name}' ended the stream before the answer was complete`,
    );
  }

  #start(id: string | undefined, model: string | undefined): string {
    const input = inputEstimates.get(this.#ctx) ?? 0;
    return this.#w.start(anthropicMessageId(id, this.#ctx.requestId), model ?? this.#ctx.clientModel, {
      input_tokens: input,
      output_tokens: 0,
    });
  }

  #final(): StreamEvent {
    this.#done = true;
    const usage = this.#usage ?? estimatedUsage(this.#ctx, this.#output);
    const start = this.#w.started ? '' : this.#start(undefined, undefined);
    const blocks = this.#tools.flush();
    return { data: start + blocks + this.#w.end(finishToAnthropicStop(this.#finish), usage), done: true };
  }

  #textEvent(data: string, text: string, before: WriterState, kind: CutInfo['kind']): StreamEvent {
    const ev: StreamEvent = { data, text };
    this.#cuts.set(ev, { before, kind });
    this.#output += text;
    return ev;
  }

  #frames(frames: SseFrame[], events: StreamEvent[]): void {
    for (const f of frames) {
      if (this.#done) continue;
      if (f.data === '[DONE]') {
        events.push(this.#final());
        continue;
      }
      const chunk = this.#parse(f.data);
      if (!this.#w.started) events.push({ data: this.#start(chunk.id, chunk.model) });
      const choice = chunk.choices?.[0];
      const content = choice?.delta?.content;
      if (content) {
        // held tool calls go out whole first: text after tool calls starts a block of its own
        const blocks = this.#tools.flush();
        if (blocks) events.push({ data: blocks });
        const before = this.#w.snapshot();
        events.push(this.#textEvent(this.#w.text(content), content, before, 'text'));
      }
      for (const call of choice?.delta?.tool_calls ?? []) {
        const args = call.function?.arguments ?? '';
        const before = this.#w.snapshot();
        const { data, live } = this.#tools.push({
          index: call.index ?? 0,
          id: call.id,
          name: call.function?.name,
          args,
        });
        events.push(args ? this.#textEvent(data, args, before, live ? 'tool_args' : 'held') : { data });
      }
      if (choice?.finish_reason) this.#finish = choice.finish_reason;
      const usage = fromOpenAIUsage(chunk.usage);
      if (usage) {
        this.#usage = usage;
        events.push({ data: '', usage });
      }
    }
  }

  #parse(data: string): OpenAIChunk {
    let chunk: OpenAIChunk;
    try {
      chunk = JSON.parse(data) as OpenAIChunk;
    } catch (err) {
      throw new GatewayError(
        'SLUICE_ERR_UPSTREAM_ERROR',
        `provider '${this.#ctx.provider.name}' sent a malformed stream event`,
        { cause: err },
      );
    }
    if (chunk.error !== undefined) {
      const info = parseOpenAIError(502, Buffer.from(data));
      throw midStreamFailure(this.#ctx.provider.name, info.message, info);
    }
    return chunk;
  }

  /** Rewind the writer to what the client saw when the cap cut `cut` (none of its bytes were sent). */
  #rewind(cut: StreamEvent | undefined): CutInfo | undefined {
    const info = cut ? this.#cuts.get(cut) : undefined;
    if (info) {
      this.#w.restore(info.before);
      this.#cuts.delete(cut as StreamEvent);
    }
    return info;
  }

  textChunk(text: string, cut?: StreamEvent): string {
    const info = this.#rewind(cut);
    // a held call never reached the client: no part of it is sent
    if (info?.kind === 'held') return '';
    if (info?.kind === 'tool_args') {
      // the tool block may have started inside the cut event: restart it only if the client lacks it
      return this.#w.openKind === 'tool_use' ? this.#w.toolArgs(text) : '';
    }
    return this.#w.text(text);
  }

  finish(_reason: 'length', usage: Usage, cut?: StreamEvent): string {
    this.#rewind(cut);
    this.#done = true;
    const start = this.#w.started ? '' : this.#start(undefined, undefined);
    return start + this.#w.end('max_tokens', usage);
  }

  errorEvent(err: GatewayError): string {
    return anthropicErrorFrame(err);
  }
}

export const anthropicToOpenAI: Translator = {
  clientApi: 'anthropic-messages',
  backendApi: 'openai',
  buildRequest,
  parseResponse,
  createStream: (ctx) => new OpenAIToAnthropicStream(ctx),
  parseError: (status, body) => parseOpenAIError(status, body),
};
