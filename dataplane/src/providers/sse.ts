// Incremental Server-Sent Events framing. Upstream chunks split frames anywhere (even inside "\r\n"),
// so bytes are buffered until a blank line ends a frame. Only what the translators need is parsed:
// the `event:` name and the joined `data:` lines; the raw frame text is kept for byte-exact passthrough.

export interface SseFrame {
  event: string | undefined;
  data: string;
  /** the frame exactly as received, including its terminating blank line */
  raw: string;
  /**
   * Set when `data` is `raw` from this index to its length minus 2 (a one-line `data:` frame), so a
   * reader can scan it inside `raw` (one flat string) instead of the slice.
   */
  dataStart?: number;
}

export class SseParser {
  #buf = '';
  readonly #decoder = new TextDecoder('utf-8');

  push(chunk: Buffer | Uint8Array | string): SseFrame[] {
    this.#buf += typeof chunk === 'string' ? chunk : this.#decoder.decode(chunk, { stream: true });
    return this.#drain();
  }

  /** Frames left when the stream ends; a trailing frame without its blank line is still returned. */
  end(): SseFrame[] {
    this.#buf += this.#decoder.decode();
    const frames = this.#drain();
    if (this.#buf.trim() !== '') {
      const tail = parseFrame(this.#buf + '\n\n');
      if (tail) frames.push(tail);
    }
    this.#buf = '';
    return frames;
  }

  /** bytes received but not yet part of a complete frame */
  get pending(): number {
    return this.#buf.length;
  }

  #drain(): SseFrame[] {
    const frames: SseFrame[] = [];
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

/** index just past the blank line that ends the frame starting at `from`, or -1 */
function findFrameEnd(s: string, from: number): number {
  for (let i = s.indexOf('\n', from); i >= 0; i = s.indexOf('\n', i + 1)) {
    if (s[i + 1] === '\n') return i + 2;
    if (s[i + 1] === '\r' && s[i + 2] === '\n') return i + 3;
  }
  return -1;
}

function parseFrame(raw: string): SseFrame | undefined {
  // Nearly every frame is one `data: ...` line and the blank line: take its value without splitting.
  // Anything else (several lines, event:, comments, CRs, no space after the colon) takes the full path.
  const end = raw.length - 2;
  if (
    raw.startsWith('data: ') &&
    raw.indexOf('\n') === end &&
    raw[end + 1] === '\n' &&
    raw[end - 1] !== '\r'
  ) {
    return { event: undefined, data: raw.slice(6, end), raw, dataStart: 6 };
  }
  let event: string | undefined;
  let data: string | undefined;
  for (const line0 of raw.split('\n')) {
    const line = line0.endsWith('\r') ? line0.slice(0, -1) : line0;
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') data = data === undefined ? value : data + '\n' + value;
    else if (field === 'event') event = value;
  }
  if (data === undefined && event === undefined) return undefined;
  return { event, data: data ?? '', raw };
}

export function sseData(data: string, event?: string): string {
  return event === undefined ? `data: ${data}\n\n` : `event: ${event}\ndata: ${data}\n\n`;
}
