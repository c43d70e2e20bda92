// Incremental reader for the AWS event-stream framing (application/vnd.amazon.eventstream) used by
// Bedrock ConverseStream. Each message is: total length (u32 BE), headers length (u32 BE), prelude
// CRC32, headers, payload, message CRC32. Upstream chunks split messages anywhere, so bytes are
// buffered until a whole message is present; @smithy/core's codec then checks both CRCs and parses
// the typed headers. A bad CRC or an impossible length is an error, never a skipped message.
//
// The codec's modules cost ~2 MiB of heap in every replica, and most have no Bedrock provider: they
// are loaded on first use. The Bedrock translator awaits loadEventStreamCodec() while it builds (and
// signs) a request, so the codec is there before any answer is read.
import type { EventStreamCodec } from '@smithy/core/event-streams';

const PRELUDE = 12;
const MIN_MESSAGE = 16;
/** AWS caps event-stream messages at 16 MiB; anything larger is a corrupt length field. */
const MAX_MESSAGE = 16 * 1024 * 1024;

export interface EventMessage {
  headers: Record<string, string | number | boolean>;
  payload: Buffer;
}

export class EventStreamError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'EventStreamError';
  }
}

let codec: EventStreamCodec | undefined;
let loading: Promise<void> | undefined;

/** Loads the codec once; every later call returns the same settled promise. */
export function loadEventStreamCodec(): Promise<void> {
  loading ??= import('@smithy/core/event-streams').then(({ EventStreamCodec }) => {
    const utf8Decoder = new TextDecoder('utf-8');
    const utf8Encoder = new TextEncoder();
    codec = new EventStreamCodec(
      (bytes) => utf8Decoder.decode(bytes),
      (text) => utf8Encoder.encode(text),
    );
  });
  return loading;
}

function loadedCodec(): EventStreamCodec {
  if (!codec)
    throw new EventStreamError('the event-stream codec is not loaded (loadEventStreamCodec() first)');
  return codec;
}

export class EventStreamDecoder {
  #buf: Buffer = Buffer.alloc(0);

  #error: EventStreamError | undefined;

  /**
   * Whole messages in the bytes so far. A corrupt message after good ones is reported on the next call,
   * so the good ones are not lost; nothing after a corrupt message is ever decoded.
   */
  push(chunk: Buffer): EventMessage[] {
    if (this.#error) throw this.#error;
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    const out: EventMessage[] = [];
    try {
      while (this.#buf.length >= PRELUDE) {
        const total = this.#buf.readUInt32BE(0);
        if (total < MIN_MESSAGE || total > MAX_MESSAGE)
          throw new EventStreamError(`event-stream message length ${total} is out of range`);
        if (this.#buf.length < total) break;
        const frame = this.#buf.subarray(0, total);
        this.#buf = this.#buf.subarray(total);
        out.push(decodeMessage(frame));
      }
    } catch (err) {
      if (out.length === 0) throw err;
      this.#error = err as EventStreamError;
    }
    return out;
  }

  /** Throws if the stream ended inside a message (or after a corrupt one). */
  end(): void {
    if (this.#error) throw this.#error;
    if (this.#buf.length > 0)
      throw new EventStreamError(`event stream ended inside a message (${this.#buf.length} bytes left)`);
  }
}

export function decodeMessage(frame: Uint8Array): EventMessage {
  let decoded: ReturnType<EventStreamCodec['decode']>;
  try {
    decoded = loadedCodec().decode(frame);
  } catch (err) {
    throw new EventStreamError(`corrupt event-stream message: ${(err as Error).message}`, { cause: err });
  }
  const headers: EventMessage['headers'] = {};
  for (const [name, h] of Object.entries(decoded.headers)) {
    if (typeof h.value === 'string' || typeof h.value === 'number' || typeof h.value === 'boolean')
      headers[name] = h.value;
  }
  return {
    headers,
    payload: Buffer.from(decoded.body.buffer, decoded.body.byteOffset, decoded.body.byteLength),
  };
}

/** One message with string headers (what Bedrock sends), for the fake upstream and tests. */
export function encodeMessage(headers: Record<string, string>, payload: Uint8Array): Buffer {
  const typed = Object.fromEntries(
    Object.entries(headers).map(([k, v]) => [k, { type: 'string' as const, value: v }]),
  );
  return Buffer.from(loadedCodec().encode({ headers: typed, body: payload }));
}
