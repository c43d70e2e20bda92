// Writing an Anthropic Messages event stream from backend-neutral pieces (text, tool call start, tool
// arguments, end). Any translator whose client is an Anthropic SDK (OpenAI, Gemini or Bedrock backends)
// feeds this writer and gets the exact sequence the SDKs expect:
//   message_start, ping, (content_block_start, content_block_delta*, content_block_stop)*,
//   message_delta (stop_reason + cumulative usage), message_stop
// The writer's state can be snapshotted and restored, so a stream cut at a token cap can close exactly
// the blocks the client saw (see StreamTranslator.finish's `cut`).

import type { Usage } from '../../providers/types.ts';
import { type AnthropicUsage, toAnthropicUsage } from './format.ts';

export interface WriterState {
  started: boolean;
  /** index the next content block gets */
  next: number;
  /** the open block, if any */
  open: { index: number; kind: 'text' | 'tool_use' } | undefined;
}

function frame(event: string, data: Record<string, unknown>): string {
  return `event: ${event}\ndata: ${JSON.stringify({ type: event, ...data })}\n\n`;
}

export class AnthropicEventWriter {
  #state: WriterState = { started: false, next: 0, open: undefined };

  get started(): boolean {
    return this.#state.started;
  }

  get openKind(): 'text' | 'tool_use' | undefined {
    return this.#state.open?.kind;
  }

  snapshot(): WriterState {
    return { ...this.#state };
  }

  restore(s: WriterState): void {
    this.#state = { ...s };
  }

  /** message_start (usage as known so far: Anthropic sends input tokens here) and the first ping. */
  start(id: string, model: string, usage: AnthropicUsage): string {
    this.#state.started = true;
    const message = {
      id,
      type: 'message',
      role: 'assistant',
      model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage,
    };
    return frame('message_start', { message }) + frame('ping', {});
  }

  /** Close the open block, if any. */
  close(): string {
    const open = this.#state.open;
    if (!open) return '';
    this.#state.open = undefined;
    return frame('content_block_stop', { index: open.index });
  }

  text(text: string): string {
    let out = '';
    if (this.#state.open?.kind !== 'text') {
      out += this.close();
      const index = this.#state.next++;
      this.#state.open = { index, kind: 'text' };
      out += frame('content_block_start', { index, content_block: { type: 'text', text: '' } });
    }
    const index = (this.#state.open as { index: number }).index;
    return out + frame('content_block_delta', { index, delta: { type: 'text_delta', text } });
  }

  toolStart(id: string, name: string): string {
    const out = this.close();
    const index = this.#state.next++;
    this.#state.open = { index, kind: 'tool_use' };
    return (
      out + frame('content_block_start', { index, content_block: { type: 'tool_use', id, name, input: {} } })
    );
  }

  /** A piece of the open tool call's JSON input. */
  toolArgs(partialJson: string): string {
    const open = this.#state.open;
    if (open?.kind !== 'tool_use' || partialJson === '') return '';
    return frame('content_block_delta', {
      index: open.index,
      delta: { type: 'input_json_delta', partial_json: partialJson },
    });
  }

  /** Close the open block, then message_delta (stop reason + cumulative usage) and message_stop. */
  end(stopReason: string, usage: Usage, stopSequence: string | null = null): string {
    return (
      this.close() +
      frame('message_delta', {
        delta: { stop_reason: stopReason, stop_sequence: stopSequence },
        usage: toAnthropicUsage(usage),
      }) +
      frame('message_stop', {})
    );
  }
}
