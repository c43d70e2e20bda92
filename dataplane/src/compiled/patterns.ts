// Every pattern a config author (a tenant's AIPolicy or AIRoute) writes runs in time linear in its
// input: regular expressions on RE2 (re2js, a pure-JS port: no native build, installs from the npm
// registry alone; the engine comparison is in docs/security.md) and globs on a matcher without
// backtracking. V8's own engine backtracks: `(a+)+$` on a 28-character prompt held the event loop
// for 10.9 s and `llama-*-*-instruct` on a 100 KB model name for 18.8 s. Patterns RE2 cannot run
// (backreferences, lookaround) are refused at config load with a message that says why.
import { RE2JS } from 're2js';

/** A compiled pattern: `test` is true when the pattern matches anywhere in the text (like RegExp#test). */
export interface LinearPattern {
  readonly source: string;
  readonly flags: string;
  test(text: string): boolean;
}

/** Config flags (JavaScript's letters) → RE2 flags. `g` and `y` only make RegExp#test stateful: ignored. */
const FLAG_BITS: Record<string, number> = {
  i: RE2JS.CASE_INSENSITIVE,
  m: RE2JS.MULTILINE,
  s: RE2JS.DOTALL,
  u: 0, // RE2 matches code points already
  g: 0,
  y: 0,
};

function flagBits(flags: string): number {
  let bits = 0;
  for (const f of flags) {
    const bit = FLAG_BITS[f];
    if (bit === undefined) throw new Error(`unsupported flag "${f}" (use i, m, s or u)`);
    bits |= bit;
  }
  return bits;
}

/** RE2's parse error, said in terms of what the author wrote. */
function explain(message: string): string {
  if (/invalid escape sequence: `\\(\d|k)/.test(message))
    return 'backreferences (\\1, \\k<name>) are not supported: patterns run on RE2, in linear time';
  if (/`\(\?(=|!|<=|<!)/.test(message))
    return 'lookahead and lookbehind ((?=, (?!, (?<=, (?<!) are not supported: patterns run on RE2, in linear time';
  return `invalid regular expression: ${message.replace(/^error parsing regexp: /, '')}`;
}

/** Compiles a configured regular expression for RE2; throws an Error whose message names the problem. */
export function compilePattern(pattern: string, flags = ''): LinearPattern {
  const bits = flagBits(flags);
  let re: RE2JS;
  try {
    re = RE2JS.compile(pattern, bits);
  } catch (err) {
    throw new Error(explain((err as Error).message));
  }
  // g and y carry no meaning here (test() is stateless): dropped, as RegExp users expect
  return { source: pattern, flags: flags.replace(/[gy]/g, ''), test: (text) => re.test(text) };
}

/** Why a configured regular expression cannot be used (for validation), or undefined when it can. */
export function patternProblem(pattern: string, flags = ''): string | undefined {
  try {
    compilePattern(pattern, flags);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

export const isGlob = (p: string): boolean => p.includes('*') || p.includes('?');

/** Does `seg` (where `?` is any one character) match `s` at `at`? */
function segmentAt(s: string, at: number, seg: string): boolean {
  for (let k = 0; k < seg.length; k++) {
    const c = seg.charCodeAt(k);
    if (c !== 63 /* ? */ && s.charCodeAt(at + k) !== c) return false;
  }
  return true;
}

/** Leftmost position in [from, end - seg.length] where seg matches, or -1. */
function findSegment(s: string, from: number, end: number, seg: string): number {
  if (!seg.includes('?')) {
    const at = s.indexOf(seg, from);
    return at >= 0 && at + seg.length <= end ? at : -1;
  }
  for (let at = from; at + seg.length <= end; at++) if (segmentAt(s, at, seg)) return at;
  return -1;
}

/**
 * A glob (`*` any run of characters, `?` any one) as a matcher without backtracking: the text before
 * the first `*` must start the name, the text after the last must end it, and the pieces between are
 * found left to right, each at its leftmost place (for globs the leftmost choice never loses a
 * match). Time is at most name length × glob length.
 */
export function compileGlob(glob: string): (name: string) => boolean {
  const parts = glob.split('*');
  if (parts.length === 1) return (s) => s.length === glob.length && segmentAt(s, 0, glob);
  const head = parts[0] as string;
  const tail = parts[parts.length - 1] as string;
  const middle = parts.slice(1, -1).filter((p) => p !== '');
  const minLength = head.length + tail.length + middle.reduce((n, p) => n + p.length, 0);
  return (s) => {
    if (s.length < minLength) return false;
    const end = s.length - tail.length;
    if (!segmentAt(s, 0, head) || !segmentAt(s, end, tail)) return false;
    let pos = head.length;
    for (const seg of middle) {
      const at = findSegment(s, pos, end, seg);
      if (at < 0) return false;
      pos = at + seg.length;
    }
    return true;
  };
}
