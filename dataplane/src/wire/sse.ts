// Incremental Server-Sent Events framing. Upstream chunks split frames anywhere (even inside "\r\n" or
// a multi-byte character), so bytes are buffered until a blank line ends a frame. Only what the
// translators need is parsed: the `event:` name and the joined `data:` lines; the raw frame text is kept
// for byte-exact passthrough.

import { GatewayError } from '../errors.ts';

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

/**
 * The most an upstream event may take before its blank line (AWS caps an event-stream message the
 * same; real SSE events are kilobytes). Without it, an upstream streaming one event that never ends
 * had its bytes held until the total timeout, as fast as it could send them.
 */
export const MAX_SSE_FRAME_BYTES = 16 * 1024 * 1024;

export class SseParser {
  /**
   * Bytes of the frame not complete yet, in the reads they came in (copies: a caller may reuse its
   * buffers). Frames are framed on bytes and each is decoded whole: a frame ends with an ASCII line
   * break, which no multi-byte character contains and which ends any broken one, so this decodes
   * exactly as one streaming TextDecoder over the whole stream would, without its per-read cost, and
   * each frame is one flat string (its raw text, scanned in place by the OpenAI chunk reader).
   */
  #rest: Buffer[] = [];
  #restLength = 0;
  /** nothing decoded yet: TextDecoder drops a UTF-8 byte order mark that starts the stream */
  #atStart = true;

  /** Strings are taken as their UTF-8 bytes. */
  push(chunk: Buffer | Uint8Array | string): SseFrame[] {
    const bytes =
      typeof chunk === 'string'
        ? Buffer.from(chunk)
        : Buffer.isBuffer(chunk)
          ? chunk
          : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let buf = bytes;
    let from = 0;
    if (this.#restLength > 0) {
      // A read that ends no frame only waits with the rest: joining the rest to every read of an
      // event that does not end (many lines, no blank one) copied it once per read (quadratic).
      if (!this.#endsAFrame(bytes)) {
        this.#keep(bytes);
        return [];
      }
      // the end may start up to two bytes back ("\n" | "\r" in the rest, then "\n")
      from = Math.max(0, this.#restLength - 2);
      buf = Buffer.concat([...this.#rest, bytes], this.#restLength + bytes.length);
      this.#rest = [];
      this.#restLength = 0;
    }
    const frames: SseFrame[] = [];
    let start = 0;
    for (;;) {
      const end = findFrameEnd(buf, from);
      if (end < 0) break;
      const frame = parseFrame(this.#decode(buf, start, end));
      if (frame) frames.push(frame);
      start = from = end;
    }
    if (start < buf.length) this.#keep(buf.subarray(start));
    return frames;
  }

  /** Frames left when the stream ends; a trailing frame without its blank line is still returned. */
  end(): SseFrame[] {
    const frames: SseFrame[] = [];
    if (this.#restLength > 0) {
      const text = this.#decode(Buffer.concat(this.#rest, this.#restLength), 0, this.#restLength);
      if (text.trim() !== '') {
        const tail = parseFrame(text + '\n\n');
        if (tail) frames.push(tail);
      }
    }
    this.#rest = [];
    this.#restLength = 0;
    this.#atStart = true;
    return frames;
  }

  /** bytes received but not yet part of a complete frame */
  get pending(): number {
    return this.#restLength;
  }

  /**
   * Whether this read completes the frame kept so far: an end inside the read, or one that starts in
   * the rest's last two bytes and ends in the read's first two (a frame end is at most 3 bytes), so
   * the read itself is not copied to ask.
   */
  #endsAFrame(bytes: Buffer): boolean {
    return (
      findFrameEnd(bytes, 0) >= 0 || findFrameEnd(Buffer.concat([this.#tail(), bytes.subarray(0, 2)]), 0) >= 0
    );
  }

  /** the last two bytes kept: a frame end ("\n" | "\r" then "\n") may start in them */
  #tail(): Buffer {
    const out: number[] = [];
    for (let i = this.#rest.length - 1; i >= 0 && out.length < 2; i--) {
      const b = this.#rest[i] as Buffer;
      for (let j = b.length - 1; j >= 0 && out.length < 2; j--) out.unshift(b[j] as number);
    }
    return Buffer.from(out);
  }

  #keep(bytes: Buffer): void {
    if (this.#restLength + bytes.length > MAX_SSE_FRAME_BYTES)
      throw new GatewayError(
        'SLUICE_ERR_RESPONSE_TOO_LARGE',
        `an upstream stream event exceeds ${MAX_SSE_FRAME_BYTES} bytes`,
      );
    this.#rest.push(Buffer.from(bytes));
    this.#restLength += bytes.length;
  }

  #decode(buf: Buffer, start: number, end: number): string {
    if (this.#atStart) {
      this.#atStart = false;
      if (buf[start] === 0xef && buf[start + 1] === 0xbb && buf[start + 2] === 0xbf) start += 3;
    }
    return buf.toString('utf8', start, end);
  }
}

const LF = 0x0a;
const CR = 0x0d;

/** index just past the blank line that ends the frame starting at `from`, or -1 */
function findFrameEnd(b: Buffer, from: number): number {
  for (let i = b.indexOf(LF, from); i >= 0; i = b.indexOf(LF, i + 1)) {
    if (b[i + 1] === LF) return i + 2;
    if (b[i + 1] === CR && b[i + 2] === LF) return i + 3;
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
