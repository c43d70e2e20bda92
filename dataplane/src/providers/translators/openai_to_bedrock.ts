// OpenAI client -> Amazon Bedrock Converse (/model/{modelId}/converse) and ConverseStream
// (/model/{modelId}/converse-stream), signed with SigV4. The stream is AWS event-stream binary framing
// whose messages carry `:event-type` (messageStart, contentBlockStart, contentBlockDelta,
// contentBlockStop, messageStop, metadata) or `:message-type: exception` with `:exception-type`.
import { GatewayError } from '../../errors.ts';
import {
  type EventMessage,
  EventStreamDecoder,
  loadEventStreamCodec,
} from '../../wire/bedrock/eventstream.ts';
import { toConverseRequest } from '../../wire/bedrock/from_openai.ts';
import { signRequest } from '../../wire/bedrock/sigv4.ts';
import {
  type ConverseResponse,
  type ConverseUsage,
  converseUsage,
  parseBedrockError,
  stopReason,
} from '../../wire/bedrock/to_openai.ts';
import { chatCompletionBody, OpenAIChunkStream, type ToolCallOut } from '../../wire/openai/response.ts';
import { midStreamFailure, parseUpstreamJson } from '../../wire/upstream_json.ts';
import { upstreamPath } from '../request_parts.ts';
import type {
  StreamEvent,
  TranslateContext,
  TranslatedResponse,
  Translator,
  UpstreamRequest,
} from '../types.ts';

export async function converseRequest(
  req: Record<string, unknown>,
  ctx: TranslateContext,
): Promise<UpstreamRequest> {
  const path = upstreamPath(ctx.provider, ctx.stream ? 'stream' : 'openai-chat', ctx.upstreamModel);
  const body = JSON.stringify(req);
  const base = {
    'content-type': 'application/json',
    accept: ctx.stream ? 'application/vnd.amazon.eventstream' : 'application/json',
    ...ctx.provider.config.headers,
  };
  const headers = await signRequest(ctx.provider, 'POST', path, base, body);
  // the stream's framing codec is loaded on first use, before any answer is read (eventstream.ts)
  if (ctx.stream) await loadEventStreamCodec();
  return { method: 'POST', path, headers, body };
}

function parseConverse(body: Buffer, ctx: TranslateContext): TranslatedResponse {
  const r = parseUpstreamJson<ConverseResponse>(body, ctx.provider.name);
  let text = '';
  let reasoning = '';
  const toolCalls: ToolCallOut[] = [];
  for (const b of r.output?.message?.content ?? []) {
    if (typeof b.text === 'string') text += b.text;
    else if (b.toolUse)
      toolCalls.push({
        id: b.toolUse.toolUseId,
        name: b.toolUse.name,
        arguments: JSON.stringify(b.toolUse.input ?? {}),
      });
    else if (b.reasoningContent?.reasoningText?.text) reasoning += b.reasoningContent.reasoningText.text;
  }
  const usage = converseUsage(r.usage);
  const finish = stopReason(r.stopReason);
  const choice = { index: 0, text, reasoning, toolCalls, finishReason: finish };
  return {
    body: chatCompletionBody(`chatcmpl-${ctx.requestId}`, ctx.upstreamModel, [choice], usage),
    usage,
    finishReason: finish,
  };
}

interface StreamPayload {
  contentBlockIndex?: number;
  start?: { toolUse?: { toolUseId: string; name: string } };
  delta?: { text?: string; toolUse?: { input?: string }; reasoningContent?: { text?: string } };
  stopReason?: string;
  usage?: ConverseUsage;
  message?: string;
}

export class BedrockChatStream extends OpenAIChunkStream {
  readonly #decoder = new EventStreamDecoder();
  /** contentBlockIndex -> OpenAI tool call index */
  readonly #toolBlocks = new Map<number, number>();
  #stopped = false;
  #done = false;

  protected read(chunk: Buffer, out: StreamEvent[]): void {
    for (const m of this.#decode(() => this.#decoder.push(chunk))) out.push(...this.#message(m));
  }

  protected close(out: StreamEvent[]): void {
    this.#decode(() => {
      this.#decoder.end();
      return [];
    });
    if (this.#done) return;
    if (!this.#stopped) {
      throw new GatewayError(
        'SLUICE_ERR_UPSTREAM_ERROR',
        `provider '${this.ctx.provider.name}' ended the stream before the answer was complete`,
      );
    }
    // messageStop without a metadata event: close anyway, usage will be counted by Sluice
    this.#done = true;
    out.push(this.emitDone());
  }

  #decode(read: () => EventMessage[]): EventMessage[] {
    try {
      return read();
    } catch (err) {
      throw new GatewayError(
        'SLUICE_ERR_UPSTREAM_ERROR',
        `provider '${this.ctx.provider.name}' sent a malformed event stream: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }

  #message(m: EventMessage): StreamEvent[] {
    const payload = parseUpstreamJson<StreamPayload>(m.payload, this.ctx.provider.name);
    if (m.headers[':message-type'] !== 'event') {
      const type = String(m.headers[':exception-type'] ?? m.headers[':error-code'] ?? 'exception');
      const detail = payload.message ?? String(m.headers[':error-message'] ?? '');
      throw midStreamFailure(this.ctx.provider.name, `${type}: ${detail}`, {
        type: 'server_error',
        code: type,
      });
    }
    switch (m.headers[':event-type']) {
      case 'messageStart':
        return [];
      case 'contentBlockStart': {
        const tool = payload.start?.toolUse;
        if (!tool) return [];
        const n = this.#toolBlocks.size;
        this.#toolBlocks.set(payload.contentBlockIndex ?? 0, n);
        return [this.emitToolStart(0, n, tool.toolUseId, tool.name, '')];
      }
      case 'contentBlockDelta': {
        const d = payload.delta ?? {};
        if (typeof d.text === 'string') return d.text ? [this.emitText(0, d.text)] : [];
        if (d.reasoningContent?.text) return [this.emitReasoning(0, d.reasoningContent.text)];
        if (typeof d.toolUse?.input === 'string' && d.toolUse.input !== '') {
          const n = this.#toolBlocks.get(payload.contentBlockIndex ?? 0);
          if (n === undefined)
            throw new GatewayError(
              'SLUICE_ERR_UPSTREAM_ERROR',
              `provider '${this.ctx.provider.name}' sent tool input for a block it never started`,
            );
          return [this.emitToolArgs(0, n, d.toolUse.input)];
        }
        return [];
      }
      case 'messageStop':
        this.#stopped = true;
        return [this.emitFinish(0, stopReason(payload.stopReason))];
      case 'metadata': {
        const usage = converseUsage(payload.usage);
        if (usage) this.usage = usage;
        if (!this.#stopped) return usage ? [{ data: '', usage }] : [];
        this.#done = true;
        return [this.emitDone()];
      }
      default:
        return [];
    }
  }
}

export const openaiChatToBedrock: Translator = {
  clientApi: 'openai-chat',
  backendApi: 'bedrock',
  buildRequest: (body, ctx) => converseRequest(toConverseRequest(body, ctx), ctx),
  parseResponse: parseConverse,
  createStream: (ctx) => new BedrockChatStream(ctx),
  parseError: (status, body, _ctx, headers) => parseBedrockError(status, body, headers?.['x-amzn-errortype']),
};

export const openaiToBedrock: Translator[] = [openaiChatToBedrock];
