// OpenAI chat client -> Anthropic Messages backend. The request is translated (system prompt, required
// max_tokens, content blocks, images, tools, structured output), the response and the event stream are
// translated back to chat.completion / chat.completion.chunk. Usage comes from message_start (input and
// cache tokens) and message_delta (output, and cumulative totals on newer API versions) and reaches the
// client in OpenAI's format: both halves, never just the output.
import { GatewayError } from '../errors.ts';
import {
  type AnthropicMessage,
  AnthropicUsageTracker,
  anthropicHeaders,
  anthropicStopToFinish,
  DEFAULT_MAX_TOKENS,
  HeldFailure,
  parseAnthropicError,
  parseAnthropicFrame,
  parseUpstreamJSON,
  streamErrorFromAnthropic,
  unsupportedFeature,
} from './anthropic_format.ts';
import { openaiChatToAnthropic } from './anthropic_from_openai.ts';
import { anthropicMessageToOpenAI } from './openai_from_anthropic.ts';
import { toOpenAIUsage } from './openai_usage.ts';
import { upstreamPath } from './request_parts.ts';
import { type SseFrame, SseParser, sseData } from './sse.ts';
import type {
  StreamEvent,
  StreamTranslator,
  TranslateContext,
  TranslatedResponse,
  Translator,
  UpstreamRequest,
  Usage,
} from './types.ts';

function buildRequest(body: Record<string, unknown>, ctx: TranslateContext): UpstreamRequest {
  const out = openaiChatToAnthropic(body, {
    model: ctx.upstreamModel,
    defaultMaxTokens: ctx.provider.models.get(ctx.upstreamModel)?.maxOutputTokens ?? DEFAULT_MAX_TOKENS,
    unsupported: (feature, param) => unsupportedFeature(ctx, feature, param),
  });
  return {
    method: 'POST',
    path: upstreamPath(ctx.provider, 'openai-chat', ctx.upstreamModel),
    headers: anthropicHeaders(ctx.provider, ctx.stream),
    body: JSON.stringify(out),
  };
}

function parseResponse(body: Buffer, ctx: TranslateContext): TranslatedResponse {
  const msg = parseUpstreamJSON<Partial<AnthropicMessage>>(body, ctx.provider.name);
  if (msg.type !== 'message') {
    throw new GatewayError(
      'SLUICE_ERR_UPSTREAM_ERROR',
      `provider '${ctx.provider.name}' returned a body that is not an Anthropic message`,
    );
  }
  const out = anthropicMessageToOpenAI(msg, ctx.clientModel);
  return { body: JSON.stringify(out.body), usage: out.usage, finishReason: out.finishReason ?? undefined };
}

class AnthropicToOpenAIStream implements StreamTranslator {
  readonly #ctx: TranslateContext;
  readonly #sse = new SseParser();
  readonly #held = new HeldFailure();
  readonly #usage = new AnthropicUsageTracker();
  /** Anthropic block index -> OpenAI tool call index */
  readonly #tools = new Map<number, number>();
  /** tool call index carried by a text event, for a cap that cuts inside tool arguments */
  readonly #cutTool = new WeakMap<StreamEvent, number>();
  #id: string;
  #model: string;
  readonly #created = Math.floor(Date.now() / 1000);
  #done = false;

  constructor(ctx: TranslateContext) {
    this.#ctx = ctx;
    this.#id = `msg_${ctx.requestId}`;
    this.#model = ctx.clientModel;
  }

  push(chunk: Buffer): StreamEvent[] {
    return this.#held.run(false, (events) => this.#frames(this.#sse.push(chunk), events));
  }

  end(): StreamEvent[] {
    const events = this.#held.run(true, (out) => this.#frames(this.#sse.end(), out));
    if (this.#done) return events;
    throw new GatewayError(
      'SLUICE_ERR_UPSTREAM_ERROR',
      `provider '${this.#ctx.provider.name}' ended the stream before message_stop`,
    );
  }

  #chunk(delta: Record<string, unknown> | undefined, finish: string | null, usage?: Usage): string {
    const body: Record<string, unknown> = {
      id: this.#id,
      object: 'chat.completion.chunk',
      created: this.#created,
      model: this.#model,
      choices: delta ? [{ index: 0, delta, logprobs: null, finish_reason: finish }] : [],
    };
    if (usage) body.usage = toOpenAIUsage(usage);
    return sseData(JSON.stringify(body));
  }

  #frames(frames: SseFrame[], events: StreamEvent[]): void {
    for (const f of frames) {
      if (this.#done) continue;
      const ev = parseAnthropicFrame(f, this.#ctx.provider.name);
      switch (ev.type) {
        case 'message_start': {
          if (ev.message?.id) this.#id = ev.message.id;
          if (ev.message?.model) this.#model = ev.message.model;
          const usage = this.#usage.add(ev.message?.usage);
          const out: StreamEvent = { data: this.#chunk({ role: 'assistant', content: '' }, null) };
          if (usage) out.usage = usage;
          events.push(out);
          break;
        }
        case 'content_block_start': {
          const block = ev.content_block;
          if (block?.type === 'tool_use') {
            const index = this.#tools.size;
            this.#tools.set(ev.index ?? 0, index);
            const call = {
              index,
              id: block.id,
              type: 'function',
              function: { name: block.name, arguments: '' },
            };
            events.push({ data: this.#chunk({ tool_calls: [call] }, null) });
          } else if (block?.type === 'text' && block.text) {
            events.push({ data: this.#chunk({ content: block.text }, null), text: block.text });
          }
          break;
        }
        case 'content_block_delta': {
          const d = ev.delta;
          if (d?.type === 'text_delta' && d.text) {
            events.push({ data: this.#chunk({ content: d.text }, null), text: d.text });
          } else if (d?.type === 'input_json_delta' && d.partial_json) {
            const index = this.#tools.get(ev.index ?? 0) ?? 0;
            const call = { index, function: { arguments: d.partial_json } };
            const out: StreamEvent = {
              data: this.#chunk({ tool_calls: [call] }, null),
              text: d.partial_json,
            };
            this.#cutTool.set(out, index);
            events.push(out);
          }
          // thinking, signature and citation deltas have no OpenAI chat equivalent
          break;
        }
        case 'message_delta': {
          const usage = this.#usage.add(ev.usage);
          const finish = anthropicStopToFinish(ev.delta?.stop_reason) ?? 'stop';
          const out: StreamEvent = { data: this.#chunk({}, finish) };
          if (usage) out.usage = usage;
          events.push(out);
          break;
        }
        case 'message_stop': {
          this.#done = true;
          const usage = this.#usage.usage;
          const tail = usage && this.#ctx.clientWantsStreamUsage ? this.#chunk(undefined, null, usage) : '';
          events.push({ data: tail + 'data: [DONE]\n\n', done: true });
          break;
        }
        case 'error':
          throw streamErrorFromAnthropic(this.#ctx.provider.name, ev);
        default:
          // ping, content_block_stop and event types added later carry nothing for the client
          break;
      }
    }
  }

  textChunk(text: string, cut?: StreamEvent): string {
    const tool = cut ? this.#cutTool.get(cut) : undefined;
    if (tool !== undefined)
      return this.#chunk({ tool_calls: [{ index: tool, function: { arguments: text } }] }, null);
    return this.#chunk({ content: text }, null);
  }

  finish(reason: 'length', usage: Usage): string {
    this.#done = true;
    const tail = this.#ctx.clientWantsStreamUsage
      ? this.#chunk(undefined, null, this.#usage.withCacheSplit(usage))
      : '';
    return this.#chunk({}, reason) + tail + 'data: [DONE]\n\n';
  }

  errorEvent(err: GatewayError): string {
    return sseData(JSON.stringify(err.toJSON()));
  }
}

export const openaiToAnthropic: Translator = {
  clientApi: 'openai-chat',
  backendApi: 'anthropic',
  buildRequest,
  parseResponse,
  createStream: (ctx) => new AnthropicToOpenAIStream(ctx),
  parseError: (status, body) => parseAnthropicError(status, body),
};
