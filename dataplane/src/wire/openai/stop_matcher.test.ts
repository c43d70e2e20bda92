// The enforced stop sequences: the answer a stream gets, piece by piece, is the one the whole text
// gets (property-based, against a plain reference), and hostile sequences stay linear.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StopMatcher } from './stop_matcher.ts';

/** The reference: the first position where any sequence ends, and the text before that sequence. */
function reference(text: string, stops: string[]): { out: string; stopped: boolean } {
  for (let end = 1; end <= text.length; end++) {
    for (const s of stops) {
      if (text.slice(0, end).endsWith(s)) return { out: text.slice(0, end - s.length), stopped: true };
    }
  }
  return { out: text, stopped: false };
}

function feed(pieces: string[], stops: string[]): { out: string; stopped: boolean } {
  const m = new StopMatcher(stops);
  let out = '';
  for (const p of pieces) {
    const step = m.push(p);
    out += step.release;
    if (step.stopped) return { out, stopped: true };
  }
  return { out: out + m.flush(), stopped: false };
}

describe('StopMatcher', () => {
  it('cuts before the sequence, across pieces, and releases what was held', () => {
    expect(feed(['first line\nsecond'], ['\n'])).toEqual({ out: 'first line', stopped: true });
    expect(feed(['para one\n', '\npara two'], ['\n\n'])).toEqual({ out: 'para one', stopped: true });
    expect(feed(['a\n', ' b'], ['\n\n'])).toEqual({ out: 'a\n b', stopped: false });
    // the held '\n' is released only once the next piece shows it starts no sequence
    const m = new StopMatcher(['\n\n']);
    expect(m.push('a\n')).toEqual({ release: 'a', stopped: false });
    expect(m.push('b')).toEqual({ release: '\nb', stopped: false });
    expect(m.push('\n')).toEqual({ release: '', stopped: false });
    expect(m.flush()).toBe('\n');
    // after a stop nothing more is released
    const done = new StopMatcher(['\n']);
    expect(done.push('x\ny').stopped).toBe(true);
    expect(done.push('z')).toEqual({ release: '', stopped: true });
  });

  it('stops at the sequence that completes first', () => {
    expect(feed(['ab \n\n'], ['\n\n', ' \n'])).toEqual({ out: 'ab', stopped: true });
    expect(feed(['one two\n\nthree'], ['\n\n', '\t'])).toEqual({ out: 'one two', stopped: true });
    expect(feed(['no stop here'], ['\n'])).toEqual({ out: 'no stop here', stopped: false });
  });

  it('gives a stream, however split, the answer the whole text gets', () => {
    const alphabet = fc.constantFrom('a', 'b', '\n', ' ');
    const str = (min: number, max: number) =>
      fc.array(alphabet, { minLength: min, maxLength: max }).map((cs) => cs.join(''));
    fc.assert(
      fc.property(
        str(0, 60),
        fc.array(str(1, 4), { minLength: 1, maxLength: 4 }),
        fc.array(fc.integer({ min: 0, max: 60 }), { maxLength: 8 }),
        (text, stops, cuts) => {
          const at = [...new Set(cuts.filter((c) => c < text.length))].sort((x, y) => x - y);
          const pieces: string[] = [];
          let from = 0;
          for (const c of at) {
            pieces.push(text.slice(from, c));
            from = c;
          }
          pieces.push(text.slice(from));
          const want = reference(text, stops);
          expect(feed(pieces, stops)).toEqual(want);
        },
      ),
      { numRuns: 3000, seed: 16 },
    );
  });

  it('stays linear for sequences built to make a naive search quadratic', () => {
    // every newline continues a 3,000-character partial match that never completes
    const stop = `${'\n'.repeat(3000)} `;
    const m = new StopMatcher([stop, '\n\n\n\n\t', '\t']);
    let released = 0;
    for (let i = 0; i < 200; i++) released += m.push('\n'.repeat(1000)).release.length;
    expect(released).toBe(200_000 - 3000);
    const last = m.push(' ');
    expect(last.stopped).toBe(true);
    expect(last.release).toBe('');
  });
});
