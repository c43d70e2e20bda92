// Writing OpenAI chat responses for translators whose backend is not OpenAI: the whole
// `chat.completion` body, and the `chat.completion.chunk` SSE stream with OpenAI's conventions
// (role on the first delta, tool calls by index with the id and name on their first delta, a finish
// chunk, an optional usage-only chunk with empty choices, then `data: [DONE]`).
import { openaiErrorJSON } from '../../api/openai_error.ts';
import type { GatewayError } from '../../errors.ts';
import type { StreamEvent, StreamTranslator, TranslateContext, Usage } from '../../providers/types.ts';
import { sseData } from '../sse.ts';
import { toOpenAIUsage } from './usage.ts';

type TextKind =
  | { kind: 'text' | 'reasoning'; index: number }
  | { kind: 'tool-start'; index: number; toolIndex: number; id: string; name: string }
  | { kind: 'tool-args'; index: number; toolIndex: number };

export interface ToolCallOut {
  id: string;
  name: string;
  /** JSON text, as OpenAI carries it */
  arguments: string;
}

export interface ChoiceOut {
  index: number;
  text: string;
  reasoning: string;
  toolCalls: ToolCallOut[];
  finishReason: string;
}

export function chatCompletionBody(
  id: string,
  model: string,
  choices: ChoiceOut[],
  usage: Usage | undefined,
): string {
  const body: Record<string, unknown> = {
    id,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: choices.map((c) => {
      const message: Record<string, unknown> = {
        role: 'assistant',
        content: c.text === '' && c.toolCalls.length > 0 ? null : c.text,
        refusal: null,
      };
      if (c.reasoning) message.reasoning_content = c.reasoning;
      if (c.toolCalls.length > 0) {
        message.tool_calls = c.toolCalls.map((t) => ({
          id: t.id,
          type: 'function',
          function: { name: t.name, arguments: t.arguments },
        }));
      }
      return { index: c.index, message, logprobs: null, finish_reason: c.finishReason };
    }),
  };
  if (usage) body.usage = toOpenAIUsage(usage);
  return JSON.stringify(body);
}

/**
 * Base for stream translators that emit OpenAI chunks: subclasses parse their backend's framing and
 * call the `emit*` helpers; the cap/finish/error endings the core needs are shared.
 */
export abstract class OpenAIChunkStream implements StreamTranslator {
  protected readonly ctx: TranslateContext;
  protected id: string;
  protected model: string;
  readonly #created = Math.floor(Date.now() / 1000);
  readonly #roleSent = new Set<number>();
  /** the choice whose role the last delta written announced, until its event is built */
  #roleJustSent: number | undefined;
  /** events that announced a choice's role: if a cap cuts one, the ending announces it again */
  readonly #roleIn = new WeakMap<StreamEvent, number>();
  /** usage as last reported upstream */
  protected usage: Usage | undefined;
  /** what each text-carrying event was, so a delta trimmed at a token cap keeps its kind */
  readonly #kinds = new WeakMap<StreamEvent, TextKind>();

  constructor(ctx: TranslateContext) {
    this.ctx = ctx;
    this.id = `chatcmpl-${ctx.requestId}`;
    this.model = ctx.upstreamModel;
  }

  /** Parse upstream bytes, appending client events to `out`; throw GatewayError on upstream failure. */
  protected abstract read(chunk: Buffer, out: StreamEvent[]): void;
  /** The upstream ended: append the closing events, or throw if the answer was not complete. */
  protected abstract close(out: StreamEvent[]): void;

  #failure: unknown;

  /**
   * Events parsed before a failure in the same upstream read still go to the client; the failure is
   * raised on the next call, so the client sees exactly the text that arrived and then the error.
   */
  push(chunk: Buffer): StreamEvent[] {
    if (this.#failure !== undefined) throw this.#failure;
    const out: StreamEvent[] = [];
    try {
      this.read(chunk, out);
    } catch (err) {
      if (!out.some((e) => e.data.length > 0)) throw err;
      this.#failure = err;
    }
    return out;
  }

  end(): StreamEvent[] {
    if (this.#failure !== undefined) throw this.#failure;
    const out: StreamEvent[] = [];
    this.close(out);
    return out;
  }

  protected chunk(choice: Record<string, unknown> | undefined, usage?: Usage): string {
    const body: Record<string, unknown> = {
      id: this.id,
      object: 'chat.completion.chunk',
      created: this.#created,
      model: this.model,
      choices: choice ? [choice] : [],
    };
    if (usage) body.usage = toOpenAIUsage(usage);
    return sseData(JSON.stringify(body));
  }

  #delta(index: number, delta: Record<string, unknown>): string {
    if (!this.#roleSent.has(index)) {
      this.#roleSent.add(index);
      this.#roleJustSent = index;
      delta = { role: 'assistant', ...delta };
    }
    return this.chunk({ index, delta, logprobs: null, finish_reason: null });
  }

  #kinded(ev: StreamEvent, kind: TextKind): StreamEvent {
    this.#kinds.set(ev, kind);
    if (this.#roleJustSent !== undefined) this.#roleIn.set(ev, this.#roleJustSent);
    this.#roleJustSent = undefined;
    return ev;
  }

  /**
   * A cap cut `cut`, so the client never got it: if it announced its choice's role, the next delta
   * announces it again (the openai SDK's stream helper fails on a choice without a role).
   */
  #uncut(cut: StreamEvent | undefined): void {
    const index = cut && this.#roleIn.get(cut);
    if (cut === undefined || index === undefined) return;
    this.#roleIn.delete(cut);
    this.#roleSent.delete(index);
  }

  #deltaFor(kind: TextKind, text: string): string {
    switch (kind.kind) {
      case 'reasoning':
        return this.#delta(kind.index, { reasoning_content: text });
      case 'tool-start': {
        const fn = { name: kind.name, arguments: text };
        const call = { index: kind.toolIndex, id: kind.id, type: 'function', function: fn };
        return this.#delta(kind.index, { content: null, tool_calls: [call] });
      }
      case 'tool-args':
        return this.#delta(kind.index, {
          tool_calls: [{ index: kind.toolIndex, function: { arguments: text } }],
        });
      default:
        return this.#delta(kind.index, { content: text });
    }
  }

  protected emitText(index: number, text: string): StreamEvent {
    const kind: TextKind = { kind: 'text', index };
    return this.#kinded({ data: this.#deltaFor(kind, text), text }, kind);
  }

  protected emitReasoning(index: number, text: string): StreamEvent {
    const kind: TextKind = { kind: 'reasoning', index };
    return this.#kinded({ data: this.#deltaFor(kind, text), text }, kind);
  }

  /** The first delta of a tool call: id, name and (possibly empty) first arguments piece. */
  protected emitToolStart(
    index: number,
    toolIndex: number,
    id: string,
    name: string,
    args: string,
  ): StreamEvent {
    const kind: TextKind = { kind: 'tool-start', index, toolIndex, id, name };
    const ev: StreamEvent = { data: this.#deltaFor(kind, args) };
    if (args) ev.text = args;
    return this.#kinded(ev, kind);
  }

  protected emitToolArgs(index: number, toolIndex: number, args: string): StreamEvent {
    const kind: TextKind = { kind: 'tool-args', index, toolIndex };
    return this.#kinded({ data: this.#deltaFor(kind, args), text: args }, kind);
  }

  protected emitFinish(index: number, reason: string): StreamEvent {
    return {
      data: this.chunk({ index, delta: this.#finishDelta(index), logprobs: null, finish_reason: reason }),
    };
  }

  /**
   * A finishing chunk's delta: the choice's role when no delta announced it yet (an answer with no
   * text, or one cut before its first: the openai SDK's stream helper fails on a choice without one).
   */
  #finishDelta(index: number): Record<string, unknown> {
    if (this.#roleSent.has(index)) return {};
    this.#roleSent.add(index);
    return { role: 'assistant' };
  }

  /** The closing events: the usage chunk when the client asked for it, then [DONE]. */
  protected emitDone(): StreamEvent {
    const usageChunk = this.usage && this.ctx.clientWantsStreamUsage ? this.chunk(undefined, this.usage) : '';
    const ev: StreamEvent = { data: `${usageChunk}data: [DONE]\n\n`, done: true };
    if (this.usage) ev.usage = this.usage;
    return ev;
  }

  /** A delta trimmed at a token cap, of the same kind (content, reasoning, tool arguments) as `cut`. */
  textChunk(text: string, cut?: StreamEvent): string {
    this.#uncut(cut);
    const data = this.#deltaFor((cut && this.#kinds.get(cut)) ?? { kind: 'text', index: 0 }, text);
    this.#roleJustSent = undefined;
    return data;
  }

  finish(reason: 'length', usage: Usage, cut?: StreamEvent): string {
    this.#uncut(cut);
    const index = (cut && this.#kinds.get(cut)?.index) ?? 0;
    return (
      this.chunk({ index, delta: this.#finishDelta(index), logprobs: null, finish_reason: reason }) +
      // only when the client asked for usage, as at a natural end (end() above)
      (this.ctx.clientWantsStreamUsage ? this.chunk(undefined, usage) : '') +
      'data: [DONE]\n\n'
    );
  }

  errorEvent(err: GatewayError): string {
    return sseData(openaiErrorJSON(err));
  }
}
