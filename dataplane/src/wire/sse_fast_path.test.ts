// parseFrame takes a shortcut for the common one-line `data:` frame; it must give exactly what the
// full line-by-line parse gives, for any input split anywhere.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type SseFrame, SseParser } from './sse.ts';

/** The full parse (the algorithm without the shortcut), as the reference. */
function reference(text: string): Array<{ event: string | undefined; data: string; raw: string }> {
  const out: Array<{ event: string | undefined; data: string; raw: string }> = [];
  let buf = text;
  const frameEnd = (s: string) => {
    for (let i = s.indexOf('\n'); i >= 0; i = s.indexOf('\n', i + 1)) {
      if (s[i + 1] === '\n') return i + 2;
      if (s[i + 1] === '\r' && s[i + 2] === '\n') return i + 3;
    }
    return -1;
  };
  for (let e = frameEnd(buf); e >= 0; e = frameEnd(buf)) {
    const raw = buf.slice(0, e);
    buf = buf.slice(e);
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
    if (data !== undefined || event !== undefined) out.push({ event, data: data ?? '', raw });
  }
  return out;
}

/** The frame as the reference gives it, after checking what its dataStart promises. */
function withoutDataStart(f: SseFrame): Omit<SseFrame, 'dataStart'> {
  const { dataStart, ...rest } = f;
  if (dataStart !== undefined) expect(f.raw.slice(dataStart, f.raw.length - 2)).toBe(f.data);
  return rest;
}

const piece = fc.constantFrom(
  'data: ',
  'data:',
  'event: x',
  ': c',
  '\n',
  '\r',
  '\r\n',
  '{"a":1}',
  ' ',
  'é',
  '[DONE]',
);
const text = fc.array(fc.oneof(piece, fc.string({ maxLength: 4 })), { maxLength: 30 }).map((a) => a.join(''));

describe('SSE one-line fast path', () => {
  it('parses exactly like the full parser, whatever the input and its split', () => {
    fc.assert(
      fc.property(text, fc.nat(), (t, cut) => {
        const p = new SseParser();
        const at = t.length ? cut % (t.length + 1) : 0;
        const frames = [...p.push(t.slice(0, at)), ...p.push(t.slice(at))];
        expect(frames.map(withoutDataStart)).toEqual(reference(t));
      }),
      { numRuns: 2000 },
    );
  });

  it('takes the shortcut for a plain data frame and not for others', () => {
    const p = new SseParser();
    expect(p.push('data: {"x":1}\n\ndata: a\r\n\ndata:b\n\nevent: e\ndata: c\n\n')).toEqual([
      { event: undefined, data: '{"x":1}', raw: 'data: {"x":1}\n\n', dataStart: 6 },
      { event: undefined, data: 'a', raw: 'data: a\r\n\n' },
      { event: undefined, data: 'b', raw: 'data:b\n\n' },
      { event: 'e', data: 'c', raw: 'event: e\ndata: c\n\n' },
    ]);
  });
});
