// Reads the plain delta chunks of an OpenAI stream by matching each against the previous one.
//
// Consecutive chunks of a stream differ only in a few strings: the content, and on api.openai.com a
// random `obfuscation` pad. So once a chunk has been validated by the scanner (chunk_scan.ts),
// it becomes a template: its fixed text (keys, id, model, created, nulls, punctuation) cut around its
// string values. A later chunk that is the same fixed text with a valid JSON string in each hole is the
// same JSON with only those strings changed — which the scanner would accept with the same id, model
// and created — so it is read with a few comparisons of fixed text and one pass over each hole, instead
// of a walk of the whole frame (or a JSON.parse building a dozen objects to read one string).
// A chunk that does not match is scanned (and, if accepted, becomes the template); one the scanner
// refuses is for the caller's full parse.
//
// Which strings are holes: the texts, and OpenAI's `obfuscation` pad. Other strings (object,
// system_fingerprint, role, ...) stay constant in every stream we know of, and comparing them as fixed
// text is cheaper than a hole. If a server varies one anyway, the template misses every frame; after a
// few rebuilds every string becomes a hole, so such a stream still takes the cheap path.
import {
  CHOICE_TEXT,
  ChunkScanner,
  CONTENT,
  literalValue,
  NO_MATCH,
  REASONING,
  SKIP,
  stringEnd,
  textOf,
} from './chunk_scan.ts';

/** A normal stream builds two templates (the role-only first chunk, then the content chunks). */
const WIDE_AFTER = 3;

export class ChunkReader {
  /** the accepted frame's top-level `id`, `model`, `created` (undefined when absent) */
  id: string | undefined;
  model: string | undefined;
  created: number | undefined;
  /** the text the full parse would derive: delta.content ?? choice.text, plus reasoning_content */
  text: string | undefined;

  readonly #scanner = new ChunkScanner();
  /** fixed text around the template's holes: one more than there are holes; empty: no template */
  #fixed: string[] = [];
  #kinds: number[] = [];
  #id: string | undefined;
  #model: string | undefined;
  #created: number | undefined;
  /** templates built so far in this stream: the first ones leave SKIP strings as fixed text */
  #builds = 0;

  /** true when s[start, end) is a plain delta chunk and the fields above describe it; false: parse it in full */
  read(s: string, start: number, end: number): boolean {
    if (this.#fixed.length > 0 && this.#match(s, start, end)) return true;
    const sc = this.#scanner;
    if (!sc.scan(s, start, end)) return false;
    this.id = this.#id = sc.id;
    this.model = this.#model = sc.model;
    this.created = this.#created = sc.created;
    this.text = sc.text;
    const wide = ++this.#builds > WIDE_AFTER;
    const fixed: string[] = [];
    const kinds: number[] = [];
    let from = start;
    for (let h = 0; h < sc.holeStart.length; h++) {
      const kind = sc.holeKind[h] as number;
      if (kind === SKIP && !wide) continue;
      fixed.push(s.slice(from, sc.holeStart[h]));
      kinds.push(kind);
      from = sc.holeEnd[h] as number;
    }
    fixed.push(s.slice(from, end));
    this.#fixed = fixed;
    this.#kinds = kinds;
    return true;
  }

  #match(s: string, start: number, end: number): boolean {
    const fixed = this.#fixed;
    const kinds = this.#kinds;
    let content: string | undefined;
    let choiceText: string | undefined;
    let reasoning: string | undefined;
    let pos = start;
    for (let h = 0; h < kinds.length; h++) {
      const f = fixed[h] as string;
      if (pos + f.length > end || s.slice(pos, pos + f.length) !== f) return false;
      pos += f.length;
      const r = stringEnd(s, pos, end);
      if (r === NO_MATCH) return false;
      const close = r < 0 ? ~r : r;
      const kind = kinds[h];
      if (kind === CONTENT) content = literalValue(s, pos, close, r < 0);
      else if (kind === REASONING) reasoning = literalValue(s, pos, close, r < 0);
      else if (kind === CHOICE_TEXT) choiceText = literalValue(s, pos, close, r < 0);
      pos = close + 1;
    }
    const last = fixed[kinds.length] as string;
    if (end !== pos + last.length || s.slice(pos, end) !== last) return false;
    this.id = this.#id;
    this.model = this.#model;
    this.created = this.#created;
    this.text = textOf(content, choiceText, reasoning);
    return true;
  }
}
