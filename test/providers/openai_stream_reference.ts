// The OpenAI passthrough stream translator and SSE parser as they were before the chunk reader
// (commit db111bb): bytes decoded by a streaming TextDecoder, every frame read with a full JSON.parse.
// Kept as the reference the fast paths must agree with (providers/translators/
// openai_to_openai_stream.test.ts). The SSE frame parse is the line-by-line one without its one-line
// shortcut (wire/sse_fast_path.test.ts shows the two agree).
import { GatewayError } from '../../dataplane/src/errors.ts';
import type { StreamEvent, TranslateContext, Usage } from '../../dataplane/src/providers/types.ts';
import { parseOpenAIError } from '../../dataplane/src/wire/openai/error.ts';
import { fromOpenAIUsage, type OpenAIUsage, toOpenAIUsage } from '../../dataplane/src/wire/openai/usage.ts';
import { sseData } from '../../dataplane/src/wire/sse.ts';

/**
 * Streams on which the reference is wrong: Node's streaming TextDecoder drops a byte order mark that
 * follows broken bytes at the very start when those came in an earlier read (they give no output until
 * the next one). The Encoding standard, and a decode of the whole buffer, keep it: only the stream's
 * first character may be taken as a BOM. The parser does that whatever the reads; comparisons skip
 * these streams (a BOM at byte 1 to 6) and sse_bytes.test.ts checks the case by itself.
 */
export function refMisreadsBom(bytes: Buffer): boolean {
  // what gives no output until a later read: a first BOM (3 bytes), then an unfinished character (<= 3)
  const at = bytes.indexOf(Buffer.from([0xef, 0xbb, 0xbf]), 1);
  return at >= 1 && at <= 6;
}

export interface RefFrame {
  event: string | undefined;
  data: string;
  raw: string;
}

export class RefSseParser {
  #buf = '';
  readonly #decoder = new TextDecoder('utf-8');

  push(chunk: Buffer | Uint8Array | string): RefFrame[] {
    this.#buf += typeof chunk === 'string' ? chunk : this.#decoder.decode(chunk, { stream: true });
    return this.#drain();
  }

  end(): RefFrame[] {
    this.#buf += this.#decoder.decode();
    const frames = this.#drain();
    if (this.#buf.trim() !== '') {
      const tail = parseFrame(`${this.#buf}\n\n`);
      if (tail) frames.push(tail);
    }
    this.#buf = '';
    return frames;
  }

  #drain(): RefFrame[] {
    const frames: RefFrame[] = [];
    let start = 0;
    for (;;) {
      const end = findFrameEnd(this.#buf, start);
      if (end < 0) break;
      const frame = parseFrame(this.#buf.slice(start, end));
      if (frame) frames.push(frame);
      start = end;
    }
    if (start > 0) this.#buf = this.#buf.slice(start);
    return frames;
  }
}

function findFrameEnd(s: string, from: number): number {
  for (let i = s.indexOf('\n', from); i >= 0; i = s.indexOf('\n', i + 1)) {
    if (s[i + 1] === '\n') return i + 2;
    if (s[i + 1] === '\r' && s[i + 2] === '\n') return i + 3;
  }
  return -1;
}

function parseFrame(raw: string): RefFrame | undefined {
  let event: string | undefined;
  let data: string | undefined;
  for (const line0 of raw.split('\n')) {
    const line = line0.endsWith('\r') ? line0.slice(0, -1) : line0;
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') data = data === undefined ? value : `${data}\n${value}`;
    else if (field === 'event') event = value;
  }
  if (data === undefined && event === undefined) return undefined;
  return { event, data: data ?? '', raw };
}

interface OpenAIChunk {
  id?: string;
  model?: string;
  created?: number;
  choices?: Array<{
    delta?: {
      content?: string | null;
      reasoning_content?: string | null;
      tool_calls?: Array<{ function?: { arguments?: string } }>;
    };
    text?: string;
    finish_reason?: string | null;
    usage?: OpenAIUsage | null;
  }>;
  usage?: OpenAIUsage | null;
  error?: unknown;
}

export class RefOpenAIStream {
  readonly #ctx: TranslateContext;
  readonly #sse = new RefSseParser();
  #id = 'chatcmpl-sluice';
  #model: string;
  #created = Math.floor(Date.now() / 1000);
  #sawDone = false;
  #sawFinish = false;

  constructor(ctx: TranslateContext) {
    this.#ctx = ctx;
    this.#model = ctx.clientModel;
  }

  push(chunk: Buffer): StreamEvent[] {
    return this.#frames(this.#sse.push(chunk));
  }

  end(): StreamEvent[] {
    const events = this.#frames(this.#sse.end());
    if (this.#sawDone) return events;
    if (this.#sawFinish) {
      events.push({ data: 'data: [DONE]\n\n', done: true });
      return events;
    }
    throw new GatewayError(
      'SLUICE_ERR_UPSTREAM_ERROR',
      `provider '${this.#ctx.provider.name}' ended the stream before the answer was complete`,
    );
  }

  #frames(frames: RefFrame[]): StreamEvent[] {
    const events: StreamEvent[] = [];
    for (const f of frames) {
      if (f.data === '[DONE]') {
        this.#sawDone = true;
        events.push({ data: f.raw, done: true });
        continue;
      }
      let chunk: OpenAIChunk;
      try {
        chunk = JSON.parse(f.data) as OpenAIChunk;
      } catch (err) {
        throw new GatewayError(
          'SLUICE_ERR_UPSTREAM_ERROR',
          `provider '${this.#ctx.provider.name}' sent a malformed stream event`,
          { cause: err },
        );
      }
      if (chunk.error !== undefined && chunk.error !== null) {
        // an error chunk is judged as the 502 Sluice answers for it (an error with no message of its
        // own reads "HTTP 502"), as the translator does since upstream errors keep their status (d65ea02)
        const info = parseOpenAIError(502, Buffer.from(f.data));
        throw new GatewayError(
          'SLUICE_ERR_UPSTREAM_ERROR',
          `provider '${this.#ctx.provider.name}' failed mid-stream: ${info.message}`,
        );
      }
      if (chunk.id) this.#id = chunk.id;
      if (chunk.model) this.#model = chunk.model;
      if (chunk.created) this.#created = chunk.created;
      const choice = chunk.choices?.[0];
      let text: string | undefined;
      if (choice) {
        text = choice.delta?.content ?? choice.text ?? undefined;
        const extra = choice.delta?.reasoning_content ?? undefined;
        const args = choice.delta?.tool_calls?.map((c) => c.function?.arguments ?? '').join('');
        if (extra || args) text = (text ?? '') + (extra ?? '') + (args ?? '');
        if (choice.finish_reason) this.#sawFinish = true;
      }
      const usage = fromOpenAIUsage(chunk.usage ?? choice?.usage);
      let data: string = f.raw;
      if (usage && !this.#ctx.clientWantsStreamUsage) {
        if (!chunk.choices || chunk.choices.length === 0) data = '';
        else {
          delete chunk.usage;
          data = sseData(JSON.stringify(chunk));
        }
      }
      const ev: StreamEvent = { data };
      if (text) ev.text = text;
      if (usage) ev.usage = usage;
      events.push(ev);
    }
    return events;
  }

  #chunk(choice: Record<string, unknown> | undefined, usage?: Usage): string {
    const completions = this.#ctx.clientApi === 'openai-completions';
    const body: Record<string, unknown> = {
      id: this.#id,
      object: completions ? 'text_completion' : 'chat.completion.chunk',
      created: this.#created,
      model: this.#model,
      choices: choice ? [choice] : [],
    };
    if (usage) body.usage = toOpenAIUsage(usage);
    return sseData(JSON.stringify(body));
  }

  textChunk(text: string): string {
    const completions = this.#ctx.clientApi === 'openai-completions';
    return this.#chunk(
      completions
        ? { index: 0, text, finish_reason: null }
        : { index: 0, delta: { content: text }, finish_reason: null },
    );
  }

  finish(reason: 'length', usage: Usage): string {
    const completions = this.#ctx.clientApi === 'openai-completions';
    const last = completions
      ? { index: 0, text: '', finish_reason: reason }
      : { index: 0, delta: {}, finish_reason: reason };
    // the usage chunk only when the client asked for it (issue 12: the translator changed with it)
    const usageChunk = this.#ctx.clientWantsStreamUsage ? this.#chunk(undefined, usage) : '';
    return `${this.#chunk(last)}${usageChunk}data: [DONE]\n\n`;
  }
}
