// OpenAI-compatible servers stream parallel tool calls keyed by `index` and may interleave their
// fragments (call 0 starts, call 1 starts, then call 0's arguments, then call 1's: the chat format
// allows it and clients assemble by index). Anthropic's content blocks and the Responses API's output
// items are sequential: a block's deltas come between its start and its stop, and nothing of it after
// (clients act on the stop: the Vercel AI SDK runs a Responses function call with the arguments its
// output_item.done carries). Closing call 0 when call 1 appeared gave an Anthropic client four blocks
// and broken JSON, and a Responses client call 0 with empty arguments.
//
// So one call is streamed live; fragments of the others are held. The live call is closed only once
// its arguments form a whole JSON value (nothing valid can follow it), and the next held call then
// goes out with what it has gathered and continues live. At the end the live call is closed and the
// held ones follow, each as a whole block. A server that streams calls one after the other (OpenAI
// does) sees no difference: each call is whole by the time the next one starts.

/** Where the calls are written: an Anthropic event writer or a Responses stream model. */
export interface ToolCallSink {
  /** whether the open block/item is a tool call */
  toolOpen(): boolean;
  start(index: number, id: string, name: string): string;
  /** a piece of the open call's arguments */
  args(index: number, text: string): string;
  /** close the open tool call */
  close(): string;
}

/** Whether appended JSON text forms one whole value yet: linear in the text, whatever the pieces. */
class JsonEnd {
  #depth = 0;
  #inString = false;
  #escape = false;
  #started = false;
  #whole = false;

  get whole(): boolean {
    return this.#whole;
  }

  push(text: string): void {
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (this.#inString) {
        if (this.#escape) this.#escape = false;
        else if (c === 0x5c) this.#escape = true;
        else if (c === 0x22) this.#inString = false;
      } else if (c === 0x22) this.#inString = true;
      else if (c === 0x7b || c === 0x5b) {
        this.#depth++;
        this.#started = true;
      } else if (c === 0x7d || c === 0x5d) this.#depth--;
      // only an object or array is known to be whole (tool arguments are an object)
      if (this.#started && this.#depth === 0 && !this.#inString) this.#whole = true;
      else if (this.#whole && c > 0x20) this.#whole = false;
    }
  }
}

interface HeldCall {
  id: string;
  name: string;
  args: string;
}

export interface ToolFragment {
  index: number;
  id: string | undefined;
  name: string | undefined;
  args: string;
}

export class ToolCallSequencer {
  readonly #w: ToolCallSink;
  readonly #fallbackId: (index: number) => string;
  /** OpenAI index of the call streamed live, and how far its arguments got */
  #live: number | undefined;
  #liveEnd = new JsonEnd();
  /** calls that are done: a later fragment of one can only be whitespace after its whole JSON */
  readonly #closed = new Set<number>();
  /** held calls, in the order they first appeared */
  readonly #held = new Map<number, HeldCall>();

  constructor(w: ToolCallSink, fallbackId: (index: number) => string) {
    this.#w = w;
    this.#fallbackId = fallbackId;
  }

  /**
   * The events for one fragment of `delta.tool_calls`; `live` when its arguments went out in the
   * open block (a cap that cuts it may send part of them there), not when they were held or dropped.
   */
  push(f: ToolFragment): { data: string; live: boolean } {
    const open = this.#w.toolOpen();
    if (open && f.index === this.#live) {
      this.#liveEnd.push(f.args);
      return { data: this.#w.args(f.index, f.args), live: true };
    }
    if (this.#closed.has(f.index)) return { data: '', live: false };
    if (!open && this.#held.size === 0) return { data: this.#open(f.index, f), live: true };
    const held = this.#held.get(f.index) ?? { id: '', name: '', args: '' };
    if (!held.id && f.id) held.id = f.id;
    if (!held.name && f.name) held.name = f.name;
    held.args += f.args;
    this.#held.set(f.index, held);
    return { data: this.#liveEnd.whole ? this.#next(false) : '', live: false };
  }

  /** Close the live call and send every held one whole (before text, or at the end of the answer). */
  flush(): string {
    return this.#next(true);
  }

  #open(index: number, f: { id: string | undefined; name: string | undefined; args: string }): string {
    this.#live = index;
    this.#liveEnd = new JsonEnd();
    this.#liveEnd.push(f.args);
    return this.#w.start(index, f.id || this.#fallbackId(index), f.name ?? '') + this.#w.args(index, f.args);
  }

  /** Close the live call, then open held calls while each is whole already (all of them at the end). */
  #next(all: boolean): string {
    let out = '';
    for (;;) {
      if (this.#live !== undefined) this.#closed.add(this.#live);
      this.#live = undefined;
      this.#liveEnd = new JsonEnd();
      // an open text block stays open for the text that comes next
      if (this.#w.toolOpen()) out += this.#w.close();
      const first = this.#held.entries().next();
      if (first.done) return out;
      const [index, call] = first.value;
      this.#held.delete(index);
      out += this.#open(index, call);
      if (!all && !this.#liveEnd.whole) return out;
    }
  }
}
