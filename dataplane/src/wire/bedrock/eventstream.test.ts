// The AWS event-stream reader: round trips, frames split at every byte, frames from an independent
// encoder (the fake Bedrock's, written from the spec with node:zlib's CRC32), and corruption of each
// checksum and length field rejected rather than skipped.
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame } from '../../../../test/fakes/bedrock.ts';
import {
  decodeMessage,
  EventStreamDecoder,
  EventStreamError,
  encodeMessage,
  loadEventStreamCodec,
} from './eventstream.ts';

// the codec is loaded on first use (a replica without Bedrock never loads it)
beforeAll(() => loadEventStreamCodec());

const HEADERS = {
  ':event-type': 'contentBlockDelta',
  ':content-type': 'application/json',
  ':message-type': 'event',
};
const PAYLOAD = Buffer.from('{"contentBlockIndex":0,"delta":{"text":"héllo ✓"}}');

describe('event-stream framing', () => {
  it('round-trips headers and payload', () => {
    const frame = encodeMessage(HEADERS, PAYLOAD);
    expect(frame.readUInt32BE(0)).toBe(frame.length);
    const [msg] = new EventStreamDecoder().push(frame);
    expect(msg?.headers).toEqual(HEADERS);
    expect(msg?.payload.equals(PAYLOAD)).toBe(true);
  });

  it('decodes frames written by an independent encoder, byte for byte identical', () => {
    const theirs = encodeFrame(HEADERS, PAYLOAD);
    expect(theirs.equals(encodeMessage(HEADERS, PAYLOAD))).toBe(true);
    expect(decodeMessage(theirs).headers[':event-type']).toBe('contentBlockDelta');
  });

  it('reassembles messages split at every possible byte boundary', () => {
    const stream = Buffer.concat([
      encodeMessage(HEADERS, PAYLOAD),
      encodeMessage({ ...HEADERS, ':event-type': 'messageStop' }, Buffer.from('{"stopReason":"end_turn"}')),
    ]);
    for (let cut = 1; cut < stream.length; cut++) {
      const d = new EventStreamDecoder();
      const msgs = [...d.push(stream.subarray(0, cut)), ...d.push(stream.subarray(cut))];
      d.end();
      expect(msgs.map((m) => m.headers[':event-type'])).toEqual(['contentBlockDelta', 'messageStop']);
    }
    const d = new EventStreamDecoder();
    const oneByOne = [...stream].flatMap((b) => d.push(Buffer.from([b])));
    expect(oneByOne).toHaveLength(2);
    expect(oneByOne[1]?.payload.toString()).toBe('{"stopReason":"end_turn"}');
  });

  it('rejects a message whose message CRC does not match', () => {
    const frame = encodeMessage(HEADERS, PAYLOAD);
    frame[20] = (frame[20] as number) ^ 0x01; // a header byte: only the message CRC covers it
    expect(() => new EventStreamDecoder().push(frame)).toThrow(EventStreamError);
    expect(() => new EventStreamDecoder().push(frame)).toThrow(/checksum|crc/i);
  });

  it('rejects a message whose prelude CRC does not match', () => {
    const frame = encodeMessage(HEADERS, PAYLOAD);
    frame[8] = (frame[8] as number) ^ 0xff;
    expect(() => new EventStreamDecoder().push(frame)).toThrow(/prelude|checksum|crc/i);
  });

  it('returns the good messages before a corrupt one and raises the corruption on the next call', () => {
    const good = encodeMessage(HEADERS, PAYLOAD);
    const bad = encodeMessage(HEADERS, PAYLOAD);
    bad[bad.length - 1] = (bad[bad.length - 1] as number) ^ 0x01;
    const d = new EventStreamDecoder();
    expect(d.push(Buffer.concat([good, bad, good]))).toHaveLength(1);
    expect(() => d.end()).toThrow(EventStreamError);
    expect(() => d.push(good)).toThrow(EventStreamError);
  });

  it('rejects impossible lengths and streams that end inside a message', () => {
    const tiny = Buffer.alloc(12);
    tiny.writeUInt32BE(5, 0);
    expect(() => new EventStreamDecoder().push(tiny)).toThrow(/out of range/);
    const huge = Buffer.alloc(12);
    huge.writeUInt32BE(64 * 1024 * 1024, 0);
    expect(() => new EventStreamDecoder().push(huge)).toThrow(/out of range/);
    const d = new EventStreamDecoder();
    const frame = encodeMessage(HEADERS, PAYLOAD);
    expect(d.push(frame.subarray(0, frame.length - 3))).toEqual([]);
    expect(() => d.end()).toThrow(/ended inside a message/);
  });
});
