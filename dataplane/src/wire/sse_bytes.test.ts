// The SSE parser frames bytes and decodes each frame whole, instead of running every read through a
// streaming TextDecoder. For any bytes — broken UTF-8, a byte order mark, characters and CRLFs split
// across reads — it must return the frames the TextDecoder-based parser returned, from the same reads.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RefSseParser, refMisreadsBom } from '../../../test/providers/openai_stream_reference.ts';
import { type SseFrame, SseParser } from './sse.ts';

const b = (...bytes: number[]) => Buffer.from(bytes);
const piece = fc.constantFrom(
  Buffer.from('data: '),
  Buffer.from('data:'),
  Buffer.from('event: x\n'),
  Buffer.from(': c\n'),
  Buffer.from('\n'),
  Buffer.from('\r'),
  Buffer.from('\r\n'),
  Buffer.from('\n\n'),
  Buffer.from('{"a":"é世😀"}'),
  Buffer.from('[DONE]'),
  Buffer.from(' '),
  b(0xef, 0xbb, 0xbf), // a byte order mark (dropped only at the very start)
  b(0xff), // never valid
  b(0xc3), // a lead byte alone
  b(0xe4, 0xb8), // a three-byte character cut short
  b(0xf0, 0x9f, 0x98), // a four-byte character cut short
  b(0xed, 0xa0, 0x80), // an encoded surrogate
  b(0xc0, 0xaf), // an overlong encoding
  b(0xf4, 0x90, 0x80, 0x80), // past U+10FFFF
  b(0x80), // a continuation byte alone
);
const stream = fc.array(piece, { maxLength: 24 }).map((ps) => Buffer.concat(ps));

/** Frames per read, then the end's, each without dataStart once what it promises is checked. */
function frames(p: { push(c: Buffer): SseFrame[]; end(): SseFrame[] }, reads: Buffer[]): SseFrame[][] {
  const strip = (fs: SseFrame[]) =>
    fs.map(({ dataStart, ...f }) => {
      if (dataStart !== undefined) expect(f.raw.slice(dataStart, f.raw.length - 2)).toBe(f.data);
      return f;
    });
  return [...reads.map((r) => strip(p.push(Buffer.from(r)))), strip(p.end())];
}

describe('SSE parser on bytes', () => {
  it('gives the frames a streaming TextDecoder gave, from the same reads, for any bytes split anywhere', () => {
    fc.assert(
      fc.property(stream, fc.array(fc.nat(), { maxLength: 5 }), (bytes, cuts) => {
        fc.pre(!refMisreadsBom(bytes));
        const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((x, y) => x - y);
        const reads: Buffer[] = [];
        let from = 0;
        for (const c of at) {
          reads.push(bytes.subarray(from, c));
          from = c;
        }
        reads.push(bytes.subarray(from));
        expect(frames(new SseParser(), reads)).toEqual(frames(new RefSseParser(), reads));
      }),
      { numRuns: 8000 },
    );
  });

  it('drops a byte order mark only at the start, even when it arrives a byte at a time', () => {
    const bom = b(0xef, 0xbb, 0xbf);
    const bytes = Buffer.concat([bom, Buffer.from('data: a\n\ndata: '), bom, Buffer.from('b\n\n')]);
    const p = new SseParser();
    const got = [...bytes].flatMap((x) => p.push(b(x)));
    expect(got.map((f) => f.data)).toEqual(['a', '\ufeffb']);
  });

  it('keeps a BOM that follows broken bytes at the start, however the reads split them', () => {
    // Node's streaming TextDecoder dropped it when the broken byte came in a read of its own
    const bytes = Buffer.concat([b(0xc3), b(0xef, 0xbb, 0xbf), Buffer.from('\ndata: x\n\n')]);
    const whole = new SseParser().push(bytes);
    const split = new SseParser();
    expect([...split.push(bytes.subarray(0, 1)), ...split.push(bytes.subarray(1))]).toEqual(whole);
    expect(whole.map((f) => f.raw)).toEqual(['\ufffd\ufeff\ndata: x\n\n']);
  });

  it('does not keep a reference to the caller buffer it was given', () => {
    const p = new SseParser();
    const read = Buffer.from('data: abc');
    p.push(read);
    read.fill(0x78); // the caller reuses its buffer
    expect(p.push(Buffer.from('\n\n')).map((f) => f.data)).toEqual(['abc']);
    expect(p.pending).toBe(0);
  });
});
