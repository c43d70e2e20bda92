// Validates a plain OpenAI content-delta chunk as JSON and reads what the stream translator needs from
// it, without JSON.parse.
//
// A stream is mostly frames like
//   {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,
//    "delta":{"content":"Hi"},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"x1"}
// This scanner walks such a frame once and reads only id, model, created and the delta's text. It
// accepts a frame only when the full parse would certainly give the same result: the frame is valid
// JSON, holds no error, no usage, no tool call, at most one choice with no finish_reason, and nothing
// nested it does not understand. For anything else — or any doubt — it answers false and the caller
// parses the frame in full. It also records where the frame's variable strings sit, so the next frames
// of the stream can be matched against this one as a template (chunk_reader.ts).
//
// Why the text cannot fool it: every string is skipped from its opening quote to the first quote not
// escaped by a backslash, so `"usage"` or `}]}` inside the content is just content. Escapes are
// validated as JSON does; raw control characters (JSON forbids them in strings), keys with escapes
// (one could spell a key we read, e.g. "cont\u0065nt") and duplicates of keys we read are refused.

const QUOTE = 34;
const BACKSLASH = 92;
const LOWER_U = 117;
const SPACE = 32;
const COMMA = 44;
const COLON = 58;
const LBRACE = 123;
const RBRACE = 125;
const LBRACKET = 91;
const RBRACKET = 93;
const MINUS = 45;
const PLUS = 43;
const LOWER_E = 101;
const UPPER_E = 69;
const LOWER_N = 110;
const LOWER_T = 116;
const LOWER_F = 102;
const DOT = 46;
const ZERO = 48;
const NINE = 57;

export const NO_MATCH = -1;

/**
 * What a string hole holds: a value the translator ignores (still validated) — PAD when it is
 * OpenAI's `obfuscation`, random on every chunk — or one of the texts it reads.
 */
export const SKIP = 0;
export const PAD = 1;
export const CONTENT = 2;
export const REASONING = 3;
export const CHOICE_TEXT = 4;

/** the characters allowed after a backslash in JSON, as a lookup by char code */
const ESCAPABLE = new Uint8Array(128);
for (const c of '"\\/bfnrtu') ESCAPABLE[c.charCodeAt(0)] = 1;

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || ((c | 32) >= 97 && (c | 32) <= 102);
}

/**
 * The string literal whose opening quote is at i: the index of its closing quote when it has no
 * escapes, its bitwise NOT (<= -2) when it has some (all valid), NO_MATCH when it is not a valid JSON
 * string before `end` (no quote at i, unterminated, a raw control character, a bad escape).
 */
export function stringEnd(s: string, i: number, end: number): number {
  if (s.charCodeAt(i) !== QUOTE) return NO_MATCH;
  let escaped = false;
  for (let j = i + 1; j < end; j++) {
    const c = s.charCodeAt(j);
    if (c === QUOTE) return escaped ? ~j : j;
    if (c < 32) return NO_MATCH;
    if (c === BACKSLASH) {
      const e = s.charCodeAt(++j); // past `end`: the loop ends without a closing quote
      if (!(e < 128 && ESCAPABLE[e] === 1)) return NO_MATCH;
      if (e === LOWER_U) {
        if (!isHex(s.charCodeAt(j + 1)) || !isHex(s.charCodeAt(j + 2))) return NO_MATCH;
        if (!isHex(s.charCodeAt(j + 3)) || !isHex(s.charCodeAt(j + 4))) return NO_MATCH;
        j += 4; // a hex digit past `end` is caught by the loop bound: no closing quote before it
      }
      escaped = true;
    }
  }
  return NO_MATCH;
}

/**
 * A delta's text as the full parse derives it (`delta.content ?? choice.text`, then reasoning_content
 * appended when non-empty), for a chunk without tool calls.
 */
export function textOf(
  content: string | undefined,
  choiceText: string | undefined,
  reasoning: string | undefined,
): string | undefined {
  const text = content ?? choiceText;
  return reasoning ? (text ?? '') + reasoning : text;
}

/** The value of the literal from i to end (its closing quote); `escaped` as stringEnd told. */
export function literalValue(s: string, i: number, end: number, escaped: boolean): string {
  // already validated: JSON.parse of the literal alone decodes its escapes exactly as the full parse
  return escaped ? (JSON.parse(s.slice(i, end + 1)) as string) : s.slice(i + 1, end);
}

// which object #object is reading
const TOP = 0;
const CHOICE = 1;
const DELTA = 2;

export class ChunkScanner {
  /** the accepted frame's top-level `id`, `model`, `created` (undefined when absent) */
  id: string | undefined;
  model: string | undefined;
  created: number | undefined;
  /** the text the full parse would derive: delta.content ?? choice.text, plus reasoning_content */
  text: string | undefined;
  /**
   * The accepted frame's string values other than id and model, in order: where each literal starts
   * (its opening quote), where it ends (just past its closing quote) and what it holds (SKIP, ...).
   */
  readonly holeStart: number[] = [];
  readonly holeEnd: number[] = [];
  readonly holeKind: number[] = [];

  #s = '';
  /** where the JSON text ends in #s */
  #end = 0;
  /** value of the last string read with decode=true */
  #str: string | undefined;
  /** the bit of the key just read, for duplicate detection (see #object) */
  #bit = 0;
  #content: string | undefined;
  #choiceText: string | undefined;
  #reasoning: string | undefined;

  /**
   * true when s[start, end) is a plain delta chunk and the fields above describe it; false: parse it
   * in full. (A range, so a frame's data can be read inside its raw text without slicing it out.)
   */
  scan(s: string, start: number, end: number): boolean {
    this.#s = s;
    this.#end = end;
    this.holeStart.length = 0;
    this.holeEnd.length = 0;
    this.holeKind.length = 0;
    this.id = undefined;
    this.model = undefined;
    this.created = undefined;
    this.#content = undefined;
    this.#choiceText = undefined;
    this.#reasoning = undefined;
    let i = this.#object(this.#ws(start), TOP);
    if (i === NO_MATCH) return false;
    i = this.#ws(i);
    if (i !== end) return false;
    this.text = textOf(this.#content, this.#choiceText, this.#reasoning);
    return true;
  }

  /** JSON also allows tab, CR and LF between tokens; frames holding them take the full parse */
  #ws(i: number): number {
    while (this.#s.charCodeAt(i) === SPACE) i++;
    return i;
  }

  /**
   * The object whose `{` is at i, its members read by the reader for `kind`; returns the index after
   * its `}`. Each reader returns the index after the member's value and, once done with it (a nested
   * object resets #bit), sets #bit to the key's bit: a duplicate of a key we read is refused, since
   * JSON.parse would keep the last one.
   */
  #object(i: number, kind: number): number {
    const s = this.#s;
    if (s.charCodeAt(i) !== LBRACE) return NO_MATCH;
    i = this.#ws(i + 1);
    if (s.charCodeAt(i) === RBRACE) return i + 1;
    let seen = 0;
    for (;;) {
      const end = stringEnd(s, i, this.#end);
      if (end < 0) return NO_MATCH; // not a string, or one with escapes (see the header)
      const key = s.slice(i + 1, end);
      i = this.#ws(end + 1);
      if (s.charCodeAt(i) !== COLON) return NO_MATCH;
      const v = this.#ws(i + 1);
      this.#bit = 0;
      const after =
        kind === TOP
          ? this.#topMember(key, v)
          : kind === CHOICE
            ? this.#choiceMember(key, v)
            : this.#deltaMember(key, v);
      if (after === NO_MATCH || (seen & this.#bit) !== 0) return NO_MATCH;
      seen |= this.#bit;
      i = this.#ws(after);
      const c = s.charCodeAt(i);
      if (c === RBRACE) return i + 1;
      if (c !== COMMA) return NO_MATCH;
      i = this.#ws(i + 1);
    }
  }

  /** the member reader's result, after setting the bit of the key it read */
  #read(bit: number, after: number): number {
    this.#bit = bit;
    return after;
  }

  #topMember(key: string, v: number): number {
    switch (key) {
      case 'id': {
        const after = this.#string(v, true, undefined);
        this.id = this.#str;
        return this.#read(1, after);
      }
      case 'model': {
        const after = this.#string(v, true, undefined);
        this.model = this.#str;
        return this.#read(2, after);
      }
      case 'created': {
        const after = this.#number(v);
        if (after !== NO_MATCH) this.created = Number(this.#s.slice(v, after));
        return this.#read(4, after);
      }
      case 'choices':
        return this.#read(8, this.#choices(v));
      case 'usage':
        return this.#read(16, this.#null(v));
      case 'error':
        return NO_MATCH; // the full path decides ("error":null is no error; anything else fails the stream)
      default:
        return this.#scalar(v, key);
    }
  }

  /** `[]` or `[ one choice ]`; more choices (n > 1) take the full path */
  #choices(i: number): number {
    const s = this.#s;
    if (s.charCodeAt(i) !== LBRACKET) return NO_MATCH;
    i = this.#ws(i + 1);
    if (s.charCodeAt(i) === RBRACKET) return i + 1;
    i = this.#object(i, CHOICE);
    if (i === NO_MATCH) return NO_MATCH;
    i = this.#ws(i);
    return s.charCodeAt(i) === RBRACKET ? i + 1 : NO_MATCH;
  }

  #choiceMember(key: string, v: number): number {
    switch (key) {
      case 'delta':
        return this.#read(1, this.#object(v, DELTA));
      case 'text': {
        const after = this.#nullableString(v, CHOICE_TEXT);
        this.#choiceText = this.#str;
        return this.#read(2, after);
      }
      case 'finish_reason':
        return this.#read(4, this.#null(v));
      case 'usage':
        return this.#read(8, this.#null(v));
      default:
        return this.#scalar(v, key);
    }
  }

  #deltaMember(key: string, v: number): number {
    switch (key) {
      case 'content': {
        const after = this.#nullableString(v, CONTENT);
        this.#content = this.#str;
        return this.#read(1, after);
      }
      case 'reasoning_content': {
        const after = this.#nullableString(v, REASONING);
        this.#reasoning = this.#str;
        return this.#read(2, after);
      }
      case 'tool_calls':
        return this.#read(4, this.#null(v));
      default:
        return this.#scalar(v, key);
    }
  }

  /** the value of a key we do not read: a string, number, true, false or null, nothing nested */
  #scalar(i: number, key: string): number {
    const s = this.#s;
    const c = s.charCodeAt(i);
    if (c === QUOTE) return this.#string(i, false, key === 'obfuscation' ? PAD : SKIP);
    if (c === MINUS || (c >= ZERO && c <= NINE)) return this.#number(i);
    if (c === LOWER_N) return this.#null(i);
    if (c === LOWER_T) return s.slice(i, i + 4) === 'true' ? i + 4 : NO_MATCH;
    if (c === LOWER_F) return s.slice(i, i + 5) === 'false' ? i + 5 : NO_MATCH;
    return NO_MATCH;
  }

  #null(i: number): number {
    return this.#s.slice(i, i + 4) === 'null' ? i + 4 : NO_MATCH;
  }

  #nullableString(i: number, kind: number): number {
    if (this.#s.charCodeAt(i) === LOWER_N) {
      this.#str = undefined;
      return this.#null(i);
    }
    return this.#string(i, true, kind);
  }

  /**
   * The string literal at i; sets #str to its value when decode (undefined when not a string), and
   * records it as a hole of `kind` unless kind is undefined (id and model).
   */
  #string(i: number, decode: boolean, kind: number | undefined): number {
    this.#str = undefined;
    const r = stringEnd(this.#s, i, this.#end);
    if (r === NO_MATCH) return NO_MATCH;
    const end = r < 0 ? ~r : r;
    if (decode) this.#str = literalValue(this.#s, i, end, r < 0);
    if (kind !== undefined) {
      this.holeStart.push(i);
      this.holeEnd.push(end + 1);
      this.holeKind.push(kind);
    }
    return end + 1;
  }

  /** A JSON number (-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?); returns the index after it. */
  #number(i: number): number {
    const s = this.#s;
    if (s.charCodeAt(i) === MINUS) i++;
    let c = s.charCodeAt(i);
    if (c === ZERO) i++;
    else if (c > ZERO && c <= NINE) i = this.#digits(i);
    else return NO_MATCH;
    if (s.charCodeAt(i) === DOT) {
      const d = this.#digits(i + 1);
      if (d === i + 1) return NO_MATCH;
      i = d;
    }
    c = s.charCodeAt(i);
    if (c === LOWER_E || c === UPPER_E) {
      i++;
      c = s.charCodeAt(i);
      if (c === PLUS || c === MINUS) i++;
      const d = this.#digits(i);
      if (d === i) return NO_MATCH;
      i = d;
    }
    return i;
  }

  #digits(i: number): number {
    const s = this.#s;
    let c = s.charCodeAt(i);
    while (c >= ZERO && c <= NINE) c = s.charCodeAt(++i);
    return i;
  }
}
