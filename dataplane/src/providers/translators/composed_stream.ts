// A stream translator made of two: the inner one (the backend's `openai-chat` translator) turns the
// upstream bytes into OpenAI chunk events, the outer one turns those into the client's format. Shared by
// the compositions (anthropic_to_any.ts, responses_to_any.ts) so each keeps only what it does differently:
// how the inner events are fed to the outer stream (`through`).
import type { GatewayError } from '../../errors.ts';
import type { StreamEvent, StreamTranslator, Usage } from '../types.ts';

export class ComposedStream<Outer extends StreamTranslator = StreamTranslator> implements StreamTranslator {
  protected readonly inner: StreamTranslator;
  protected readonly outer: Outer;

  constructor(inner: StreamTranslator, outer: Outer) {
    this.inner = inner;
    this.outer = outer;
  }

  /**
   * The inner stream's events fed to the outer stream: each event's bytes go through the outer's `push`,
   * and the inner's last usage is passed on as its own event, since the backend's usage is the one to
   * account (it is at least as exact as the OpenAI chunk's, and keeps cache-write tokens that chunk
   * cannot carry).
   */
  protected through(events: StreamEvent[]): StreamEvent[] {
    const out: StreamEvent[] = [];
    let usage: Usage | undefined;
    for (const ev of events) {
      if (ev.usage) usage = ev.usage;
      if (ev.data.length > 0) out.push(...this.outer.push(Buffer.from(ev.data)));
    }
    if (usage) out.push({ data: '', usage });
    return out;
  }

  push(chunk: Buffer): StreamEvent[] {
    return this.through(this.inner.push(chunk));
  }

  end(): StreamEvent[] {
    const out = this.through(this.inner.end());
    out.push(...this.outer.end());
    return out;
  }

  // what the core writes itself (a cap's cut, an early finish, a late error) is in the client's format
  textChunk(text: string, cut?: StreamEvent): string {
    return this.outer.textChunk(text, cut);
  }

  finish(reason: 'length', usage: Usage, cut?: StreamEvent): string {
    return this.outer.finish(reason, usage, cut);
  }

  errorEvent(err: GatewayError): string {
    return this.outer.errorEvent(err);
  }
}
