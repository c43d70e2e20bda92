// A stream of OpenAI chat completion chunks (what every backend's openai-chat translator emits) as the
// Responses API's typed events: response.created / in_progress first, then output items opened,
// filled by deltas and closed, then response.completed (or response.incomplete when the backend
// stopped at its token limit). Usage comes from the backend translator; without one it is estimated.
import { GatewayError } from '../../errors.ts';
import type { StreamEvent, StreamTranslator, Usage } from '../../providers/types.ts';
import { SseParser } from '../sse.ts';
import { ToolCallSequencer } from '../tool_sequence.ts';
import { ResponsesStreamModel, type TextTarget } from './events.ts';
import type { ResponseObject } from './format.ts';

interface ChunkToolCall {
  index?: number;
  id?: string;
  function?: { name?: string; arguments?: string };
}

interface Chunk {
  choices?: Array<{
    index?: number;
    delta?: {
      content?: string | null;
      refusal?: string | null;
      reasoning_content?: string | null;
      tool_calls?: ChunkToolCall[];
    };
    finish_reason?: string | null;
  }>;
}

export class ResponsesFromChatStream implements StreamTranslator {
  readonly #model: ResponsesStreamModel;
  readonly #sse = new SseParser();
  readonly #estimate: (output: string) => Usage;
  #started = false;
  /** the event the response head (response.created, in_progress) went out in */
  #headIn: StreamEvent | undefined;
  #finish: string | null = null;
  #usage: Usage | undefined;
  #outputText = '';
  #done = false;
  /** parallel tool calls whose fragments may interleave, sent as sequential items */
  readonly #tools: ToolCallSequencer;
  /** the response as the client last saw it complete (for the state store) */
  final: ResponseObject | undefined;

  /** `estimate` gives usage when the backend reported none (from the output text seen). */
  constructor(base: ResponseObject, estimate: (output: string) => Usage) {
    const model = new ResponsesStreamModel(base);
    this.#model = model;
    this.#estimate = estimate;
    const sink = {
      toolOpen: () => model.callOpen(),
      start: (index: number, id: string, name: string) => model.toolStart(String(index), id, name),
      args: (index: number, text: string) => model.toolArgs(String(index), text),
      close: () => model.closeOpen(),
    };
    this.#tools = new ToolCallSequencer(sink, (index) => `call_${index}`);
  }

  #start(): string {
    if (this.#started) return '';
    this.#started = true;
    const response = { ...this.#model.final('in_progress', undefined), output: [] };
    return (
      this.#model.event('response.created', { response }) +
      this.#model.event('response.in_progress', { response })
    );
  }

  #textEvent(out: StreamEvent[], target: TextTarget, text: string, write: () => string): void {
    const before = this.#model.snapshot(target);
    const head = this.#start();
    const ev = this.#model.mark({ data: head + write(), text }, before);
    if (head) this.#headIn = ev;
    out.push(ev);
  }

  #chunk(chunk: Chunk, out: StreamEvent[]): void {
    const choice = chunk.choices?.[0];
    if (!choice) return;
    const d = choice.delta ?? {};
    if (d.reasoning_content) {
      const t = d.reasoning_content;
      this.#textEvent(out, { kind: 'reasoning' }, t, () => this.#model.reasoning(t));
    }
    const text = d.content ?? d.refusal;
    if (text) {
      // held function calls go out whole first: text after them is an item of its own
      const items = this.#tools.flush();
      if (items) out.push({ data: items });
      this.#outputText += text;
      this.#textEvent(out, { kind: 'text' }, text, () => this.#model.text(text));
    }
    for (const call of d.tool_calls ?? []) {
      const index = call.index ?? 0;
      const args = call.function?.arguments ?? '';
      const key = String(index);
      const target: TextTarget = {
        kind: 'args',
        key,
        callId: call.id ?? `call_${key}`,
        name: call.function?.name ?? '',
      };
      const before = this.#model.snapshot(target);
      const head = this.#start();
      const { data, live } = this.#tools.push({ index, id: call.id, name: call.function?.name, args });
      if (!args) {
        if (head + data) out.push({ data: head + data });
        continue;
      }
      this.#outputText += args;
      if (!live) before.target = { kind: 'held' };
      const ev = this.#model.mark({ data: head + data, text: args }, before);
      if (head) this.#headIn = ev;
      out.push(ev);
    }
    if (choice.finish_reason) this.#finish = choice.finish_reason;
  }

  #read(data: string | Buffer, out: StreamEvent[]): void {
    for (const frame of this.#sse.push(data)) {
      if (frame.data === '[DONE]' || frame.data === '') continue;
      let chunk: Chunk & { usage?: unknown; error?: { message?: string } };
      try {
        chunk = JSON.parse(frame.data) as typeof chunk;
      } catch {
        continue;
      }
      if (chunk.error) {
        throw new GatewayError('SLUICE_ERR_UPSTREAM_ERROR', chunk.error.message ?? 'upstream stream error');
      }
      this.#chunk(chunk, out);
    }
  }

  /** Feed the backend translator's events (OpenAI chunk SSE, with its usage and end flags). */
  through(events: StreamEvent[]): StreamEvent[] {
    const out: StreamEvent[] = [];
    let done = false;
    for (const ev of events) {
      if (ev.usage) this.#usage = ev.usage;
      if (ev.data.length > 0) this.#read(ev.data, out);
      if (ev.done) done = true;
    }
    if (done) out.push(this.#terminal());
    return out;
  }

  #terminal(): StreamEvent {
    if (this.#done) return { data: '' };
    this.#done = true;
    const usage = this.#usage ?? this.#estimate(this.#outputText);
    const held = this.#tools.flush();
    const incomplete = this.#finish === 'length' || this.#finish === 'content_filter';
    const { data, response } = this.#model.complete(
      incomplete ? 'incomplete' : 'completed',
      usage,
      incomplete ? { reason: this.#finish === 'length' ? 'max_output_tokens' : 'content_filter' } : null,
    );
    this.final = response;
    return { data: this.#start() + held + data, usage, done: true };
  }

  push(chunk: Buffer): StreamEvent[] {
    return this.through([{ data: chunk }]);
  }

  end(): StreamEvent[] {
    if (this.#done) return [];
    throw new GatewayError(
      'SLUICE_ERR_UPSTREAM_ERROR',
      'upstream stream ended before the answer was complete',
    );
  }

  /**
   * Back to what the client saw before `cut`. When the cut event carried the response head, the client
   * never got it: it is written again, numbered from where the model went back to.
   */
  #rewind(cut: StreamEvent | undefined): string {
    this.#model.restore(cut);
    if (cut !== undefined && cut === this.#headIn) {
      this.#started = false;
      this.#headIn = undefined;
    }
    return this.#start();
  }

  textChunk(text: string, cut?: StreamEvent): string {
    return this.#rewind(cut) + this.#model.continueAfterCut(text, cut);
  }

  finish(_reason: 'length', usage: Usage, cut?: StreamEvent): string {
    const head = this.#rewind(cut);
    this.#done = true;
    const { data, response } = this.#model.complete('incomplete', usage, { reason: 'max_output_tokens' });
    this.final = response;
    return head + data;
  }

  errorEvent(err: GatewayError): string {
    return this.#start() + this.#model.failed(err);
  }
}
