// OpenAI chat client -> Anthropic Messages backend. The request is translated (system prompt, required
// max_tokens, content blocks, images, tools, structured output), the response and the event stream are
// translated back to chat.completion / chat.completion.chunk. Usage comes from message_start (input and
// cache tokens) and message_delta (output, and cumulative totals on newer API versions) and reaches the
// client in OpenAI's format: both halves, never just the output.
import { GatewayError } from '../../errors.ts';
import { countTokens } from '../../tokens/counter.ts';
import { parseAnthropicError, streamErrorFromAnthropic } from '../../wire/anthropic/error.ts';
import {
  type AnthropicBlock,
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
import { StopMatcher } from '../../wire/openai/stop_matcher.ts';
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

/** Per attempt: the stop sequences Anthropic refuses and Sluice enforces on the answer itself. */
const enforcedStops = new WeakMap<TranslateContext, string[]>();

function buildRequest(body: Record<string, unknown>, ctx: TranslateContext): UpstreamRequest {
  const enforced: string[] = [];
  const out = openaiChatToAnthropic(body, {
    model: ctx.upstreamModel,
    defaultMaxTokens: ctx.provider.models.get(ctx.upstreamModel)?.maxOutputTokens ?? DEFAULT_MAX_TOKENS,
    unsupported: (feature, param) => unsupportedFeature(ctx, feature, param),
    enforcedStops: enforced,
  });
  if (enforced.length > 0) enforcedStops.set(ctx, enforced);
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
  const stops = enforcedStops.get(ctx);
  if (stops) cutAtStop(msg, stops);
  const out = anthropicMessageToOpenAI(msg, ctx.clientModel);
  return { body: JSON.stringify(out.body), usage: out.usage, finishReason: out.finishReason ?? undefined };
}

/**
 * The answer ends where the first enforced stop sequence starts, as OpenAI's would and as the stream
 * cuts it: the blocks before it in the order the model wrote them (a tool call it completed before
 * the sequence stays; one after it is dropped, the model would have stopped before making it), the
 * text before the sequence, finish_reason 'stop'. A sequence spans adjacent text blocks but not a
 * tool call. The usage stays the upstream's: it generated, and charged for, the whole answer.
 */
function cutAtStop(msg: Partial<AnthropicMessage>, stops: string[]): void {
  const blocks = msg.content ?? [];
  const matcher = new StopMatcher(stops);
  const kept: AnthropicBlock[] = [];
  for (const b of blocks) {
    if (b.type === 'tool_use') {
      const held = matcher.flush();
      if (held) kept.push({ type: 'text', text: held });
      kept.push(b);
      continue;
    }
    if (b.type !== 'text') {
      kept.push(b);
      continue;
    }
    const step = matcher.push(b.text ?? '');
    if (step.release) kept.push({ type: 'text', text: step.release });
    if (step.stopped) {
      msg.content = kept;
      msg.stop_reason = 'stop_sequence';
      return;
    }
  }
}

/** Anthropic events -> OpenAI chunks, on the shared OpenAI chunk writer (roles, tool call indexes, caps). */
class AnthropicToOpenAIStream extends OpenAIChunkStream {
  readonly #sse = new SseParser();
  readonly #tracker = new AnthropicUsageTracker();
  /** Anthropic block index -> OpenAI tool call index */
  readonly #tools = new Map<number, number>();
  #done = false;
  /** the enforced stop sequences, when the client sent any Anthropic refuses */
  readonly #stops: StopMatcher | undefined;
  /** estimated tokens of all the text the upstream generated (for the usage of an answer cut at a stop) */
  #generated = 0;

  constructor(ctx: TranslateContext) {
    super(ctx);
    this.id = `msg_${ctx.requestId}`;
    const stops = enforcedStops.get(ctx);
    this.#stops = stops ? new StopMatcher(stops) : undefined;
  }

  /** Text for the client, through the enforced stop sequences when there are any. */
  #text(text: string, out: StreamEvent[]): void {
    const stops = this.#stops;
    if (!stops) {
      out.push(this.emitText(0, text));
      return;
    }
    this.#generated += countTokens(text, 'estimate');
    const step = stops.push(text);
    if (step.release) out.push(this.emitText(0, step.release));
    if (step.stopped) this.#stopAnswer(out);
  }

  /** Other output follows: text held back as a possible start of a stop sequence was not one. */
  #release(out: StreamEvent[]): void {
    const held = this.#stops?.flush();
    if (held) out.push(this.emitText(0, held));
  }

  /**
   * A stop sequence completed: the answer ends here, as OpenAI's would (finish_reason 'stop', the
   * usage so far, [DONE]), and Sluice stops reading, which ends the upstream's generation. The output
   * is the estimate of what the upstream generated up to now: it reports its count only at the end.
   */
  #stopAnswer(out: StreamEvent[]): void {
    this.#done = true;
    const reported = this.usage;
    this.usage = {
      ...reported,
      inputTokens: reported?.inputTokens ?? 0,
      outputTokens: Math.max(reported?.outputTokens ?? 0, this.#generated),
      estimated: true,
    };
    const finish = this.emitFinish(0, 'stop');
    finish.usage = this.usage;
    out.push(finish);
    out.push({ ...this.emitDone(), stopsUpstream: true });
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
            this.#release(out);
            const toolIndex = this.#tools.size;
            this.#tools.set(ev.index ?? 0, toolIndex);
            out.push(this.emitToolStart(0, toolIndex, block.id ?? '', block.name ?? '', ''));
          } else if (block?.type === 'text' && block.text) this.#text(block.text, out);
          break;
        }
        case 'content_block_delta': {
          const d = ev.delta;
          if (d?.type === 'text_delta' && d.text) this.#text(d.text, out);
          else if (d?.type === 'input_json_delta' && d.partial_json) {
            out.push(this.emitToolArgs(0, this.#tools.get(ev.index ?? 0) ?? 0, d.partial_json));
          } else if (d?.type === 'thinking_delta' && d.thinking) out.push(this.emitReasoning(0, d.thinking));
          // signature and citation deltas have no OpenAI chat equivalent
          break;
        }
        case 'message_delta': {
          this.#release(out);
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
