// Exact BPE tokenization for OpenAI's o200k_base and cl100k_base: the same token ids as tiktoken
// (tested against gpt-tokenizer, which matches it), with the rank tables held compactly
// (tokens/bpe_ranks.ts) instead of gpt-tokenizer's ~58 MiB of JavaScript objects. This file splits
// text into pieces, caches and slices; the byte-pair merge of one piece is in tokens/bpe_merge.ts.
//
// Special tokens are never special here: "<|endoftext|>" in user text is plain text, which is how
// counter.ts has always counted it (gpt-tokenizer with no allowed and no disallowed specials).
import { PieceMerger } from './bpe_merge.ts';
import { loadRankTable, type RankTable, rankOf } from './bpe_ranks.ts';

export type BpeEncodingName = 'o200k_base' | 'cl100k_base';

// The pre-tokenization split patterns, copied from gpt-tokenizer 4.0.0 (src/encodingParams/constants.ts),
// which writes OpenAI's tiktoken patterns (tiktoken_ext/openai_public.py) in JavaScript syntax: the
// case-insensitive contraction group spelled out as [sS] etc., and no possessive quantifiers (none
// of them can backtrack into a different split). bpe.test.ts holds these strings equal to the package's.
const CONTRACTION = "'(?:[sS]|[dD]|[mM]|[tT]|[lL][lL]|[vV][eE]|[rR][eE])";
export const SPLIT_PATTERNS: Readonly<Record<BpeEncodingName, string>> = {
  cl100k_base: String.raw`${CONTRACTION}|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s+$|\s*[\r\n]|\s+(?!\S)|\s`,
  o200k_base:
    String.raw`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?:${CONTRACTION})?` +
    String.raw`|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?:${CONTRACTION})?` +
    String.raw`|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
};

/** Pieces that need merging are remembered (common words outside the vocabulary, code identifiers). */
const CACHE_MAX_ENTRIES = 4096;
const CACHE_MAX_PIECE_CHARS = 64;
/** The per-encoding UTF-8 scratch buffer stays at most this big; longer pieces get a buffer of their own. */
const SCRATCH_MAX_BYTES = 64 * 1024;
/**
 * Sliced counting (countTokensSlice) counts a piece longer than this in parts of this size: one piece
 * is one merge that cannot pause, and a 10 MB run of letters would hold a counting worker ~15 s.
 * Natural text has no such pieces (they are runs of letters, digits or symbols without a space).
 */
export const LONG_PIECE_CHARS = 16 * 1024;
/** Pieces counted between two looks at the clock. */
const PIECES_PER_CLOCK_CHECK = 1024;

export class BpeError extends Error {
  readonly code: 'BPE_UNKNOWN_TOKEN';
  constructor(code: 'BPE_UNKNOWN_TOKEN', message: string) {
    super(message);
    this.code = code;
    this.name = 'BpeError';
  }
}

class Encoding {
  private readonly cache = new Map<string, number[]>();
  private readonly split: RegExp;
  private scratch = new Uint8Array(1024);
  /** The buffer holding the current piece's bytes. */
  private bytes = this.scratch;
  private readonly merger: PieceMerger;

  readonly table: RankTable;

  constructor(table: RankTable, pattern: string) {
    this.table = table;
    this.merger = new PieceMerger(table);
    // Sticky: every code point starts some alternative of both patterns, so matching piece after
    // piece from lastIndex gives matchAll's split without allocating a match array per piece.
    this.split = new RegExp(pattern, 'uy');
  }

  /** Tokenizes `text`, appending ids to `out` when given; returns the number of tokens. */
  run(text: string, out: number[] | null): number {
    const re = this.split;
    let count = 0;
    let pos = 0;
    while (pos < text.length) {
      re.lastIndex = pos;
      if (!re.test(text)) {
        // Unreachable with these patterns; skip one code point as a global regex would.
        const c = text.charCodeAt(pos);
        pos += c >= 0xd800 && c < 0xdc00 && pos + 1 < text.length ? 2 : 1;
        continue;
      }
      const end = re.lastIndex;
      count += this.piece(text, pos, end, out);
      pos = end;
    }
    return count;
  }

  /**
   * Counts on from `cursor` for about `budgetMs` and moves the cursor. The sticky split regex resumes
   * at lastIndex, so slices split `text` exactly as run() does and their counts add up to run()'s,
   * except for pieces over LONG_PIECE_CHARS, counted in parts (a few tokens more, never fewer in practice).
   */
  runSlice(text: string, cursor: SliceCursor, budgetMs: number): number {
    const re = this.split;
    const deadline = performance.now() + budgetMs;
    let count = 0;
    let pos = cursor.pos;
    let pieces = 0;
    while (pos < text.length) {
      if (cursor.pieceEnd > pos) {
        let cut = Math.min(cursor.pieceEnd, pos + LONG_PIECE_CHARS);
        const c = text.charCodeAt(cut - 1);
        if (cut < cursor.pieceEnd && c >= 0xd800 && c < 0xdc00) cut--; // never between a surrogate pair
        count += this.piece(text, pos, cut, null);
        pos = cut;
        if (performance.now() >= deadline) break;
        continue;
      }
      re.lastIndex = pos;
      if (!re.test(text)) {
        const c = text.charCodeAt(pos);
        pos += c >= 0xd800 && c < 0xdc00 && pos + 1 < text.length ? 2 : 1;
        continue;
      }
      const end = re.lastIndex;
      if (end - pos > LONG_PIECE_CHARS) {
        cursor.pieceEnd = end;
        continue;
      }
      count += this.piece(text, pos, end, null);
      pos = end;
      if (++pieces % PIECES_PER_CLOCK_CHECK === 0 && performance.now() >= deadline) break;
    }
    cursor.pos = pos;
    return count;
  }

  private piece(text: string, start: number, end: number, out: number[] | null): number {
    const t = this.table;
    const n = this.utf8(text, start, end);
    const buf = this.bytes;
    if (n === 1) {
      out?.push(t.byteRanks[buf[0]!]!);
      return 1;
    }
    // Lone surrogates are encoded as U+FFFD (as TextEncoder and tiktoken do). gpt-tokenizer never finds
    // such a piece whole (it looks pieces up by string) and merges it instead, which reaches the same
    // token for every vocabulary entry holding U+FFFD (bpe.test.ts checks them all).
    const r = rankOf(t, buf, 0, n);
    if (r >= 0) {
      out?.push(r);
      return 1;
    }
    const key = end - start <= CACHE_MAX_PIECE_CHARS ? text.slice(start, end) : null;
    let ids = key === null ? undefined : this.cache.get(key);
    if (ids === undefined) {
      ids = this.merger.merge(buf, n);
      if (key !== null) {
        if (this.cache.size >= CACHE_MAX_ENTRIES) this.cache.clear();
        this.cache.set(key, ids);
      }
    }
    if (out) for (const id of ids) out.push(id);
    return ids.length;
  }

  /** UTF-8 of text[start, end) into `bytes` (the scratch buffer, or a buffer of its own for a huge
   * piece); returns its length. */
  private utf8(text: string, start: number, end: number): number {
    const need = (end - start) * 3;
    let buf = this.scratch;
    if (need > buf.length) {
      if (need <= SCRATCH_MAX_BYTES) buf = this.scratch = new Uint8Array(SCRATCH_MAX_BYTES);
      else buf = new Uint8Array(need);
    }
    this.bytes = buf;
    let n = 0;
    for (let i = start; i < end; i++) {
      let c = text.charCodeAt(i);
      if (c < 0x80) {
        buf[n++] = c;
        continue;
      }
      if (c < 0x800) {
        buf[n++] = 0xc0 | (c >> 6);
        buf[n++] = 0x80 | (c & 0x3f);
        continue;
      }
      if (c >= 0xd800 && c < 0xe000) {
        const d = i + 1 < end ? text.charCodeAt(i + 1) : 0;
        if (c < 0xdc00 && d >= 0xdc00 && d < 0xe000) {
          const cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          buf[n++] = 0xf0 | (cp >> 18);
          buf[n++] = 0x80 | ((cp >> 12) & 0x3f);
          buf[n++] = 0x80 | ((cp >> 6) & 0x3f);
          buf[n++] = 0x80 | (cp & 0x3f);
          i++;
          continue;
        }
        c = 0xfffd;
      }
      buf[n++] = 0xe0 | (c >> 12);
      buf[n++] = 0x80 | ((c >> 6) & 0x3f);
      buf[n++] = 0x80 | (c & 0x3f);
    }
    return n;
  }
}

const encodings = new Map<BpeEncodingName, Encoding>();

function encoding(name: BpeEncodingName): Encoding {
  let e = encodings.get(name);
  if (!e) {
    e = new Encoding(loadRankTable(name), SPLIT_PATTERNS[name]);
    encodings.set(name, e);
  }
  return e;
}

export function countTokens(text: string, name: BpeEncodingName): number {
  return text ? encoding(name).run(text, null) : 0;
}

/** Where sliced counting of one text stands: the next position, and the end of a long piece being cut. */
export interface SliceCursor {
  pos: number;
  pieceEnd: number;
}

/** Counts `text` from `cursor` on for about `budgetMs`; done when cursor.pos reaches text.length. */
export function countTokensSlice(
  text: string,
  name: BpeEncodingName,
  cursor: SliceCursor,
  budgetMs: number,
): number {
  return encoding(name).runSlice(text, cursor, budgetMs);
}

export function encode(text: string, name: BpeEncodingName): number[] {
  const ids: number[] = [];
  if (text) encoding(name).run(text, ids);
  return ids;
}

/** Number of ranks in the encoding (special tokens excluded). */
export function vocabularySize(name: BpeEncodingName): number {
  return encoding(name).table.size;
}

/** The bytes of a token sequence, concatenated. */
export function decodeBytes(ids: readonly number[], name: BpeEncodingName): Uint8Array {
  const { bytes, offsets, size } = encoding(name).table;
  let total = 0;
  for (const id of ids) {
    if (!(id >= 0 && id < size)) throw new BpeError('BPE_UNKNOWN_TOKEN', `token ${id} is not in ${name}`);
    total += offsets[id + 1]! - offsets[id]!;
  }
  const out = new Uint8Array(total);
  let n = 0;
  for (const id of ids) {
    out.set(bytes.subarray(offsets[id]!, offsets[id + 1]!), n);
    n += offsets[id + 1]! - offsets[id]!;
  }
  return out;
}

const utf8Decoder = new TextDecoder('utf-8');

/** Text of a token sequence; bytes that are not valid UTF-8 become U+FFFD. */
export function decode(ids: readonly number[], name: BpeEncodingName): string {
  return utf8Decoder.decode(decodeBytes(ids, name));
}

/**
 * The longest prefix of `text` that ends on one of its first `max` token boundaries and not inside a
 * character: token boundaries inside a multi-byte character (emoji, rare CJK) are stepped back over.
 */
export function prefixWithinTokens(text: string, max: number, name: BpeEncodingName): string {
  if (max <= 0) return '';
  const ids = encode(text, name);
  if (ids.length <= max) return text;
  const { bytes, offsets } = encoding(name).table;
  let keep = max;
  // UTF-8 continuation bytes are 10xxxxxx: a token starting with one continues the previous character.
  while (keep > 0 && (bytes[offsets[ids[keep]!]!]! & 0xc0) === 0x80) keep--;
  let byteEnd = 0;
  for (let i = 0; i < keep; i++) byteEnd += offsets[ids[i]! + 1]! - offsets[ids[i]!]!;
  // Walk the text to the UTF-16 index of that byte offset (a lone surrogate is 3 bytes, as encoded).
  let b = 0;
  let i = 0;
  while (b < byteEnd) {
    const c = text.charCodeAt(i);
    if (c < 0x80) b += 1;
    else if (c < 0x800) b += 2;
    else if (c >= 0xd800 && c < 0xdc00 && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      b += 4;
      i++;
    } else b += 3;
    i++;
  }
  return text.slice(0, i);
}
