// Anthropic client -> Anthropic backend: a passthrough. The body goes upstream with only the model
// renamed; response bytes reach the client unchanged. Frames are parsed to read text (for caps) and
// usage: input and cache tokens from message_start, output (and, on newer API versions, cumulative
// totals) from message_delta. Both are kept, so streamed input tokens are never lost.
import { GatewayError } from '../../errors.ts';
import {
  anthropicErrorFrame,
  parseAnthropicError,
  streamErrorFromAnthropic,
} from '../../wire/anthropic/error.ts';
import {
  type AnthropicMessage,
  AnthropicUsageTracker,
  anthropicHeaders,
  anthropicStopToFinish,
  fromAnthropicUsage,
  HeldFailure,
  parseAnthropicFrame,
  toAnthropicUsage,
} from '../../wire/anthropic/format.ts';
import { SseParser } from '../../wire/sse.ts';
import { parseUpstreamJson } from '../../wire/upstream_json.ts';
import { upstreamPath } from '../request_parts.ts';
import type {
  StreamEvent,
  StreamTranslator,
  TranslateContext,
  TranslatedResponse,
  Translator,
  UpstreamRequest,
  Usage,
} from '../types.ts';

function buildRequest(body: Record<string, unknown>, ctx: TranslateContext): UpstreamRequest {
  return {
    method: 'POST',
    path: upstreamPath(ctx.provider, 'anthropic-messages', ctx.upstreamModel),
    headers: anthropicHeaders(ctx.provider, ctx.stream, ctx.forward),
    body: JSON.stringify({ ...body, model: ctx.upstreamModel }),
  };
}

function parseResponse(body: Buffer, ctx: TranslateContext): TranslatedResponse {
  const msg = parseUpstreamJson<Partial<AnthropicMessage>>(body, ctx.provider.name);
  return {
    body,
    usage: fromAnthropicUsage(msg.usage),
    finishReason: anthropicStopToFinish(msg.stop_reason) ?? undefined,
  };
}

/** Where a text-carrying frame sits, so a cap can continue that block and close it. */
interface BlockDelta {
  index: number;
  deltaType: string;
  field: 'text' | 'partial_json' | 'thinking';
}

const DELTA_FIELDS: Record<string, BlockDelta['field']> = {
  text_delta: 'text',
  input_json_delta: 'partial_json',
  thinking_delta: 'thinking',
};

function frame(event: string, data: Record<string, unknown>): string {
  return `event: ${event}\ndata: ${JSON.stringify({ type: event, ...data })}\n\n`;
}

class AnthropicPassthroughStream implements StreamTranslator {
  readonly #ctx: TranslateContext;
  readonly #sse = new SseParser();
  readonly #held = new HeldFailure();
  readonly #usage = new AnthropicUsageTracker();
  readonly #deltas = new WeakMap<StreamEvent, BlockDelta>();
  /** the last block a text frame was produced for (fallback when the core gives no cut event) */
  #last: BlockDelta | undefined;
  #done = false;

  constructor(ctx: TranslateContext) {
    this.#ctx = ctx;
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

  #frames(frames: ReturnType<SseParser['push']>, events: StreamEvent[]): void {
    for (const f of frames) {
      const ev = parseAnthropicFrame(f, this.#ctx.provider.name);
      const out: StreamEvent = { data: f.raw };
      switch (ev.type) {
        case 'message_start': {
          const usage = this.#usage.add(ev.message?.usage);
          if (usage) out.usage = usage;
          break;
        }
        case 'message_delta': {
          const usage = this.#usage.add(ev.usage);
          if (usage) out.usage = usage;
          break;
        }
        case 'content_block_delta': {
          const deltaType = ev.delta?.type ?? '';
          const field = DELTA_FIELDS[deltaType];
          const text = field ? ev.delta?.[field] : undefined;
          if (field && text) {
            out.text = text;
            const where = { index: ev.index ?? 0, deltaType, field };
            this.#deltas.set(out, where);
            this.#last = where;
          }
          break;
        }
        case 'content_block_stop':
          if (this.#last && this.#last.index === ev.index) this.#last = undefined;
          break;
        case 'message_stop':
          this.#done = true;
          out.done = true;
          break;
        case 'error':
          throw streamErrorFromAnthropic(this.#ctx.provider.name, ev);
        default:
          break;
      }
      events.push(out);
    }
  }

  #block(cut: StreamEvent | undefined): BlockDelta | undefined {
    return (cut && this.#deltas.get(cut)) ?? this.#last;
  }

  textChunk(text: string, cut?: StreamEvent): string {
    const b = this.#block(cut);
    if (!b) return '';
    return frame('content_block_delta', { index: b.index, delta: { type: b.deltaType, [b.field]: text } });
  }

  /** The cut frame's block is open on the client (its start was an earlier frame): close it, then end. */
  finish(_reason: 'length', usage: Usage, cut?: StreamEvent): string {
    const b = this.#block(cut);
    this.#done = true;
    return (
      (b ? frame('content_block_stop', { index: b.index }) : '') +
      frame('message_delta', {
        delta: { stop_reason: 'max_tokens', stop_sequence: null },
        usage: toAnthropicUsage(this.#usage.withCacheSplit(usage)),
      }) +
      frame('message_stop', {})
    );
  }

  errorEvent(err: GatewayError): string {
    return anthropicErrorFrame(err);
  }
}

export const anthropicToAnthropic: Translator = {
  clientApi: 'anthropic-messages',
  backendApi: 'anthropic',
  buildRequest,
  parseResponse,
  createStream: (ctx) => new AnthropicPassthroughStream(ctx),
  parseError: (status, body) => parseAnthropicError(status, body),
};
