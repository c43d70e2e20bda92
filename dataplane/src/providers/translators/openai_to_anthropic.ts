// OpenAI chat client -> Anthropic Messages backend. The request is translated (system prompt, required
// max_tokens, content blocks, images, tools, structured output), the response and the event stream are
// translated back to chat.completion / chat.completion.chunk. Usage comes from message_start (input and
// cache tokens) and message_delta (output, and cumulative totals on newer API versions) and reaches the
// client in OpenAI's format: both halves, never just the output.
import { GatewayError } from '../../errors.ts';
import { parseAnthropicError, streamErrorFromAnthropic } from '../../wire/anthropic/error.ts';
import {
  type AnthropicMessage,
  AnthropicUsageTracker,
  anthropicHeaders,
  anthropicStopToFinish,
  DEFAULT_MAX_TOKENS,
  parseAnthropicFrame,
  unsupportedFeature,
} from '../../wire/anthropic/format.ts';
import { openaiChatToAnthropic } from '../../wire/anthropic/from_openai.ts';
import { anthropicMessageToOpenAI } from '../../wire/anthropic/to_openai.ts';
import { OpenAIChunkStream } from '../../wire/openai/response.ts';
import { type SseFrame, SseParser } from '../../wire/sse.ts';
import { parseUpstreamJson } from '../../wire/upstream_json.ts';
import { upstreamPath } from '../request_parts.ts';
import type {
  StreamEvent,
  TranslateContext,
  TranslatedResponse,
  Translator,
  UpstreamRequest,
  Usage,
} from '../types.ts';

function buildRequest(body: Record<string, unknown>, ctx: TranslateContext): UpstreamRequest {
  const out = openaiChatToAnthropic(body, {
    model: ctx.upstreamModel,
    defaultMaxTokens: ctx.provider.models.get(ctx.upstreamModel)?.maxOutputTokens ?? DEFAULT_MAX_TOKENS,
    unsupported: (feature, param) => unsupportedFeature(ctx, feature, param),
  });
  return {
    method: 'POST',
    path: upstreamPath(ctx.provider, 'openai-chat', ctx.upstreamModel),
    headers: anthropicHeaders(ctx.provider, ctx.stream, ctx.forward),
    body: JSON.stringify(out),
  };
}

function parseResponse(body: Buffer, ctx: TranslateContext): TranslatedResponse {
  const msg = parseUpstreamJson<Partial<AnthropicMessage>>(body, ctx.provider.name);
  if (msg.type !== 'message') {
    throw new GatewayError(
      'SLUICE_ERR_UPSTREAM_ERROR',
      `provider '${ctx.provider.name}' returned a body that is not an Anthropic message`,
    );
  }
  const out = anthropicMessageToOpenAI(msg, ctx.clientModel);
  return { body: JSON.stringify(out.body), usage: out.usage, finishReason: out.finishReason ?? undefined };
}

/** Anthropic events -> OpenAI chunks, on the shared OpenAI chunk writer (roles, tool call indexes, caps). */
class AnthropicToOpenAIStream extends OpenAIChunkStream {
  readonly #sse = new SseParser();
  readonly #tracker = new AnthropicUsageTracker();
  /** Anthropic block index -> OpenAI tool call index */
  readonly #tools = new Map<number, number>();
  #done = false;

  constructor(ctx: TranslateContext) {
    super(ctx);
    this.id = `msg_${ctx.requestId}`;
  }

  protected read(chunk: Buffer, out: StreamEvent[]): void {
    this.#frames(this.#sse.push(chunk), out);
  }

  protected close(out: StreamEvent[]): void {
    this.#frames(this.#sse.end(), out);
    if (!this.#done) {
      throw new GatewayError(
        'SLUICE_ERR_UPSTREAM_ERROR',
        `provider '${this.ctx.provider.name}' ended the stream before message_stop`,
      );
    }
  }

  #frames(frames: SseFrame[], out: StreamEvent[]): void {
    for (const f of frames) {
      if (this.#done) continue;
      const ev = parseAnthropicFrame(f, this.ctx.provider.name);
      switch (ev.type) {
        case 'message_start': {
          if (ev.message?.id) this.id = ev.message.id;
          if (ev.message?.model) this.model = ev.message.model;
          this.usage = this.#tracker.add(ev.message?.usage);
          // input and cache tokens are known now; the core keeps them even if the stream fails later
          if (this.usage) out.push({ data: '', usage: this.usage });
          break;
        }
        case 'content_block_start': {
          const block = ev.content_block;
          if (block?.type === 'tool_use') {
            const toolIndex = this.#tools.size;
            this.#tools.set(ev.index ?? 0, toolIndex);
            out.push(this.emitToolStart(0, toolIndex, block.id ?? '', block.name ?? '', ''));
          } else if (block?.type === 'text' && block.text) out.push(this.emitText(0, block.text));
          break;
        }
        case 'content_block_delta': {
          const d = ev.delta;
          if (d?.type === 'text_delta' && d.text) out.push(this.emitText(0, d.text));
          else if (d?.type === 'input_json_delta' && d.partial_json) {
            out.push(this.emitToolArgs(0, this.#tools.get(ev.index ?? 0) ?? 0, d.partial_json));
          } else if (d?.type === 'thinking_delta' && d.thinking) out.push(this.emitReasoning(0, d.thinking));
          // signature and citation deltas have no OpenAI chat equivalent
          break;
        }
        case 'message_delta': {
          this.usage = this.#tracker.add(ev.usage) ?? this.usage;
          const finish = this.emitFinish(0, anthropicStopToFinish(ev.delta?.stop_reason) ?? 'stop');
          if (this.usage) finish.usage = this.usage;
          out.push(finish);
          break;
        }
        case 'message_stop':
          this.#done = true;
          out.push(this.emitDone());
          break;
        case 'error':
          throw streamErrorFromAnthropic(this.ctx.provider.name, ev);
        default:
          // ping, content_block_stop and event types added later carry nothing for the client
          break;
      }
    }
  }

  /** The core's cap-time usage has totals only; keep the cache split this stream reported. */
  override finish(reason: 'length', usage: Usage, cut?: StreamEvent): string {
    return super.finish(reason, this.#tracker.withCacheSplit(usage), cut);
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
