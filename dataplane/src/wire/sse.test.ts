import { describe, expect, it } from 'vitest';
import { GatewayError } from '../errors.ts';
import { MAX_SSE_FRAME_BYTES, SseParser } from './sse.ts';

describe('SseParser', () => {
  it('reassembles frames split at every byte boundary, CRLF included', () => {
    const text = 'event: a\r\ndata: {"x":1}\r\n\r\ndata: line1\ndata: line2\n\n: comment\n\ndata: [DONE]\n\n';
    for (let cut = 1; cut < text.length; cut++) {
      const p = new SseParser();
      const frames = [...p.push(text.slice(0, cut)), ...p.push(text.slice(cut)), ...p.end()];
      expect(frames.map((f) => [f.event, f.data])).toEqual([
        ['a', '{"x":1}'],
        [undefined, 'line1\nline2'],
        [undefined, '[DONE]'],
      ]);
    }
  });

  it('keeps multi-byte UTF-8 characters intact across chunk boundaries', () => {
    const bytes = Buffer.from('data: 你好，世界\n\n');
    const p = new SseParser();
    const frames = [...p.push(bytes.subarray(0, 8)), ...p.push(bytes.subarray(8))];
    expect(frames[0]?.data).toBe('你好，世界');
  });

  it('keeps the raw frame for byte-exact passthrough', () => {
    const p = new SseParser();
    const [f] = p.push('data: {"a": 1}\n\n');
    expect(f?.raw).toBe('data: {"a": 1}\n\n');
  });

  it('returns a final frame that lacks its blank line at end of stream', () => {
    const p = new SseParser();
    expect(p.push('data: tail')).toEqual([]);
    expect(p.end().map((f) => f.data)).toEqual(['tail']);
  });
});

describe('SseParser bounds the frame it waits for', () => {
  it('an upstream event that never ends is refused past MAX_SSE_FRAME_BYTES, not buffered forever', () => {
    const p = new SseParser();
    const piece = Buffer.alloc(1024 * 1024, 'a'.charCodeAt(0));
    let err: unknown;
    try {
      p.push('data: "');
      for (let i = 0; i <= MAX_SSE_FRAME_BYTES / piece.length; i++) p.push(piece);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GatewayError);
    expect(err).toMatchObject({ code: 'SLUICE_ERR_RESPONSE_TOO_LARGE', status: 502 });
    expect(p.pending).toBeLessThanOrEqual(MAX_SSE_FRAME_BYTES);
  });

  it('the bound is per frame: a long stream of ordinary frames passes', () => {
    const p = new SseParser();
    const frame = Buffer.from(`data: ${'x'.repeat(1000)}\n\n`);
    let n = 0;
    for (let i = 0; i < 20_000; i++) n += p.push(frame).length;
    expect(n).toBe(20_000);
  });
});
