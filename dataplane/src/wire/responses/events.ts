// The Responses API's typed stream events (`event: response.output_text.delta` ...), written from a
// model of the response being built: its output items, which of them are still open, and the
// sequence number. Every event a stream translator hands the core is marked with the model's state
// before it, so when the core cuts the answer at a token cap (the event and everything after it never
// reached the client) the model goes back to what the client saw and the ending continues from there:
// the closing events, then `response.incomplete` with reason `max_output_tokens`.
import type { GatewayError } from '../../errors.ts';
import type { StreamEvent, Usage } from '../../providers/types.ts';
import { sseData } from '../sse.ts';
import {
  type FunctionCallItem,
  type MessageItem,
  newItemId,
  type OutputItem,
  type ReasoningItem,
  type ResponseObject,
  toResponsesUsage,
} from './format.ts';

/** What a text-carrying event added to, so a trimmed delta can be written again to the same place. */
export type TextTarget =
  | { kind: 'text' }
  | { kind: 'reasoning' }
  | { kind: 'args'; key: string; callId: string; name: string }
  /** a function call's arguments held back (tool_sequence.ts): a cut sends nothing of them */
  | { kind: 'held' };

interface Mark {
  seq: number;
  items: number;
  lens: number[];
  open: boolean[];
  target?: TextTarget;
}

function itemTextLength(item: OutputItem): number {
  if (item.type === 'function_call') return item.arguments.length;
  if (item.type === 'reasoning') return item.content?.[0]?.text.length ?? 0;
  const part = item.content[0];
  return part?.type === 'output_text' ? part.text.length : 0;
}

function truncateItem(item: OutputItem, len: number): void {
  if (item.type === 'function_call') item.arguments = item.arguments.slice(0, len);
  else if (item.type === 'reasoning') {
    const c = item.content?.[0];
    if (c) c.text = c.text.slice(0, len);
  } else {
    const part = item.content[0];
    if (part?.type === 'output_text') part.text = part.text.slice(0, len);
  }
}

export class ResponsesStreamModel {
  /** the response object as announced (response.created); status/output/usage filled at the end */
  base: ResponseObject;
  seq = 0;
  readonly items: OutputItem[] = [];
  readonly open: boolean[] = [];
  /** function_call items by the key their deltas name them by (chat tool index or upstream item id) */
  readonly calls = new Map<string, number>();
  readonly #marks = new WeakMap<StreamEvent, Mark>();
  #restoredFor: StreamEvent | undefined;

  constructor(base: ResponseObject) {
    this.base = base;
  }

  event(type: string, fields: Record<string, unknown>): string {
    return sseData(JSON.stringify({ type, ...fields, sequence_number: this.seq++ }), type);
  }

  /** A client event carrying `data`, marked with the state before `data` was written. */
  mark(ev: StreamEvent, before: Mark): StreamEvent {
    this.#marks.set(ev, before);
    return ev;
  }

  snapshot(target?: TextTarget): Mark {
    return {
      seq: this.seq,
      items: this.items.length,
      lens: this.items.map(itemTextLength),
      open: [...this.open],
      target,
    };
  }

  /** Back to the state before `cut` (once per cut: textChunk and finish both name it). */
  restore(cut: StreamEvent | undefined): TextTarget | undefined {
    if (!cut) return undefined;
    const m = this.#marks.get(cut);
    if (!m || this.#restoredFor === cut) return m?.target;
    this.#restoredFor = cut;
    this.seq = m.seq;
    this.items.length = m.items;
    this.open.length = m.items;
    for (let i = 0; i < m.items; i++) {
      truncateItem(this.items[i] as OutputItem, m.lens[i] ?? 0);
      this.open[i] = m.open[i] ?? false;
    }
    for (const [k, i] of this.calls) if (i >= m.items) this.calls.delete(k);
    return m.target;
  }

  /** Whether the open item is a function call. */
  callOpen(): boolean {
    return this.items[this.#openIndex()]?.type === 'function_call';
  }

  #openIndex(): number {
    for (let i = this.items.length - 1; i >= 0; i--) if (this.open[i]) return i;
    return -1;
  }

  #add(item: OutputItem): string {
    let out = this.closeOpen();
    this.items.push(item);
    this.open.push(true);
    const output_index = this.items.length - 1;
    const announced =
      item.type === 'message'
        ? { ...item, content: [] }
        : item.type === 'reasoning'
          ? { ...item, content: [] }
          : { ...item, arguments: '' };
    out += this.event('response.output_item.added', { output_index, item: announced });
    // a message's text and a reasoning item's text are content parts, announced before their deltas
    // (the openai SDK's stream accumulator adds the part here and fails on a delta without one)
    if (item.type === 'message' || item.type === 'reasoning') {
      out += this.event('response.content_part.added', {
        item_id: item.id,
        output_index,
        content_index: 0,
        part:
          item.type === 'message'
            ? { type: 'output_text', text: '', annotations: [], logprobs: [] }
            : { type: 'reasoning_text', text: '' },
      });
    }
    return out;
  }

  /** Text for the open message item (opened first when the open item is something else). */
  text(delta: string): string {
    let i = this.#openIndex();
    let out = '';
    if (i < 0 || this.items[i]?.type !== 'message') {
      const item: MessageItem = {
        type: 'message',
        id: newItemId('msg'),
        status: 'in_progress',
        role: 'assistant',
        content: [{ type: 'output_text', text: '', annotations: [], logprobs: [] }],
      };
      out += this.#add(item);
      i = this.items.length - 1;
    }
    const item = this.items[i] as MessageItem;
    const part = item.content[0] as { text: string };
    part.text += delta;
    return (
      out +
      this.event('response.output_text.delta', {
        item_id: item.id,
        output_index: i,
        content_index: 0,
        delta,
        logprobs: [],
      })
    );
  }

  reasoning(delta: string): string {
    let i = this.#openIndex();
    let out = '';
    if (i < 0 || this.items[i]?.type !== 'reasoning') {
      const item: ReasoningItem = {
        type: 'reasoning',
        id: newItemId('rs'),
        summary: [],
        content: [{ type: 'reasoning_text', text: '' }],
      };
      out += this.#add(item);
      i = this.items.length - 1;
    }
    const item = this.items[i] as ReasoningItem;
    (item.content?.[0] as { text: string }).text += delta;
    return (
      out +
      this.event('response.reasoning_text.delta', {
        item_id: item.id,
        output_index: i,
        content_index: 0,
        delta,
      })
    );
  }

  /**
   * After a cap cut `cut`: back to what the client saw, then `text` written where the cut event's
   * text was going (message text, reasoning, or a function call's arguments, started if needed).
   */
  continueAfterCut(text: string, cut: StreamEvent | undefined): string {
    const target = this.restore(cut) ?? { kind: 'text' };
    if (target.kind === 'held') return '';
    if (target.kind === 'reasoning') return this.reasoning(text);
    if (target.kind === 'text') return this.text(text);
    const start = this.calls.has(target.key) ? '' : this.toolStart(target.key, target.callId, target.name);
    return start + this.toolArgs(target.key, text);
  }

  /** A new function call; `key` is how later argument deltas name it. */
  toolStart(key: string, callId: string, name: string): string {
    const item: FunctionCallItem = {
      type: 'function_call',
      id: newItemId('fc'),
      call_id: callId,
      name,
      arguments: '',
      status: 'in_progress',
    };
    const out = this.#add(item);
    this.calls.set(key, this.items.length - 1);
    return out;
  }

  toolArgs(key: string, delta: string): string {
    const i = this.calls.get(key);
    if (i === undefined) return '';
    const item = this.items[i] as FunctionCallItem;
    item.arguments += delta;
    return this.event('response.function_call_arguments.delta', { item_id: item.id, output_index: i, delta });
  }

  /** Close every open item with its done events. */
  closeOpen(status: 'completed' | 'incomplete' = 'completed'): string {
    let out = '';
    for (let i = 0; i < this.items.length; i++) {
      if (!this.open[i]) continue;
      this.open[i] = false;
      const item = this.items[i] as OutputItem;
      if (item.type === 'message') {
        item.status = status;
        const part = item.content[0];
        if (part?.type === 'output_text') {
          const at = { item_id: item.id, output_index: i, content_index: 0 };
          out += this.event('response.output_text.done', { ...at, text: part.text, logprobs: [] });
          out += this.event('response.content_part.done', { ...at, part });
        }
      } else if (item.type === 'function_call') {
        item.status = status;
        out += this.event('response.function_call_arguments.done', {
          item_id: item.id,
          output_index: i,
          name: item.name,
          arguments: item.arguments,
        });
      } else {
        const text = item.content?.[0]?.text ?? '';
        const at = { item_id: item.id, output_index: i, content_index: 0 };
        out += this.event('response.reasoning_text.done', { ...at, text });
        out += this.event('response.content_part.done', { ...at, part: { type: 'reasoning_text', text } });
      }
      out += this.event('response.output_item.done', { output_index: i, item });
    }
    return out;
  }

  /** The response object in its final state. */
  final(
    status: ResponseObject['status'],
    usage: Usage | undefined,
    details: ResponseObject['incomplete_details'] = null,
    error: ResponseObject['error'] = null,
  ): ResponseObject {
    const now = Math.floor(Date.now() / 1000);
    return {
      ...this.base,
      status,
      completed_at: status === 'completed' ? now : null,
      incomplete_details: details,
      error,
      output: this.items,
      usage: usage ? toResponsesUsage(usage) : null,
    };
  }

  /** Close what is open and write the terminal event. */
  complete(
    status: 'completed' | 'incomplete',
    usage: Usage | undefined,
    details: ResponseObject['incomplete_details'] = null,
  ): { data: string; response: ResponseObject } {
    const data = this.closeOpen(status);
    const response = this.final(status, usage, details);
    return { data: data + this.event(`response.${status}`, { response }), response };
  }

  /** A failure after bytes reached the client: OpenAI's `error` event, then `response.failed`. */
  failed(err: GatewayError): string {
    const json = err.toJSON().error;
    const error = this.event('error', { code: json.code, message: json.message, param: json.param });
    const response = this.final('failed', undefined, null, {
      code: String(json.code),
      message: json.message,
    });
    return error + this.event('response.failed', { response });
  }
}
