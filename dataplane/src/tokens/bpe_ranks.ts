// Compact BPE rank tables for tokens/bpe.ts, read from the tiktoken-format files that gpt-tokenizer
// ships (gpt-tokenizer/data/<name>.tiktoken: one "base64(token bytes) rank" line per token).
//
// Why not gpt-tokenizer's own tables: its encodings are a 2.4 MB JavaScript array literal compiled into
// the heap plus a 200k-entry Map of strings, ~58 MiB of RSS for o200k_base and 0.3-0.7 s of blocked
// event loop on first use. Here every token's bytes sit in one Uint8Array, their offsets in a
// Uint32Array and a byte-slice -> rank index in an open-addressing Int32Array: ~5 MiB for o200k_base,
// no per-token JavaScript objects, so the GC has nothing to trace.
import { closeSync, openSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';

export interface RankTable {
  /** Every token's bytes, concatenated in rank order. */
  readonly bytes: Uint8Array;
  /** Token r is bytes[offsets[r], offsets[r + 1]). */
  readonly offsets: Uint32Array;
  /** Open-addressing hash of token bytes -> rank; -1 marks an empty slot. */
  readonly slots: Int32Array;
  readonly mask: number;
  /** Number of ranks (the ranks are 0 .. size - 1). */
  readonly size: number;
  /** Rank of each single byte (all 256 are tokens in tiktoken encodings): the start of every merge. */
  readonly byteRanks: Int32Array;
  readonly maxTokenBytes: number;
}

export class RankTableError extends Error {
  readonly code: 'BPE_RANKS_MALFORMED' | 'BPE_RANKS_INCOMPLETE';
  constructor(code: 'BPE_RANKS_MALFORMED' | 'BPE_RANKS_INCOMPLETE', message: string) {
    super(message);
    this.code = code;
    this.name = 'RankTableError';
  }
}

/** FNV-1a over the slice, with a final avalanche so the low bits (the slot index) depend on all bytes. */
export function hashBytes(buf: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  return h ^ (h >>> 13);
}

/** The rank of the token whose bytes are buf[start, end), or -1 when there is none. */
export function rankOf(t: RankTable, buf: Uint8Array, start: number, end: number): number {
  const len = end - start;
  if (len > t.maxTokenBytes) return -1;
  const { bytes, offsets, slots, mask } = t;
  for (let s = hashBytes(buf, start, end) & mask; ; s = (s + 1) & mask) {
    const r = slots[s]!;
    if (r < 0) return -1;
    const o = offsets[r]!;
    if (offsets[r + 1]! - o !== len) continue;
    let i = 0;
    while (i < len && bytes[o + i] === buf[start + i]) i++;
    if (i === len) return r;
  }
}

// Base64 alphabet -> 6-bit value; 255 for anything else.
const B64 = new Uint8Array(256).fill(255);
for (let i = 0; i < 64; i++)
  B64['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.charCodeAt(i)] = i;

const SPACE = 0x20;
const NEWLINE = 0x0a;
const PAD = 0x3d; // '='
const CHUNK_BYTES = 64 * 1024;

/**
 * Reads a .tiktoken file in 64 KiB chunks and walks its lines. Without `bytes` it only counts tokens and
 * decoded bytes (to size the table exactly); with them it decodes each line's base64 into `bytes` so
 * token r is bytes[offsets[r], offsets[r + 1]), checking that ranks are the line indexes.
 * Chunks rather than the whole 3.6 MB file: holding the file and a decode buffer sized for it at once
 * left several MiB of freed malloc memory in RSS after loading. Base64 is decoded four characters at
 * a time; all state is in locals (no closures), which keeps a pass at a few ns per byte.
 */
function scan(path: string, bytes: Uint8Array | null, offsets: Uint32Array | null): Scanned {
  const fd = openSync(path, 'r');
  const chunk = new Uint8Array(CHUNK_BYTES);
  let have = 0;
  let eof = false;
  let tokens = 0;
  let out = 0;
  let maxTokenBytes = 0;
  try {
    while (!eof || have > 0) {
      if (!eof) {
        const got = readSync(fd, chunk, have, CHUNK_BYTES - have, null);
        eof = got === 0;
        have += got;
      }
      let p = 0;
      for (;;) {
        // TypedArray#indexOf is a V8 builtin (no call into Node); bytes past `have` are stale.
        let nl = chunk.indexOf(NEWLINE, p);
        if (nl < 0 || nl > have) nl = have;
        if (nl === have && !eof) break; // the rest of this line comes with the next read
        if (nl > p) {
          // "<base64> <rank>": the rank is read backwards from the end of the line.
          let sp = nl - 1;
          let rank = 0;
          for (let scale = 1; sp > p && chunk[sp] !== SPACE; sp--, scale *= 10)
            rank += (chunk[sp]! - 0x30) * scale;
          let end = sp;
          while (end > p && chunk[end - 1] === PAD) end--;
          const count = ((end - p) * 6) >> 3;
          if (sp === p || sp === nl - 1 || count === 0 || (offsets && rank !== tokens)) {
            throw new RankTableError(
              'BPE_RANKS_MALFORMED',
              `${path} line ${tokens + 1}: expected rank ${tokens}`,
            );
          }
          if (bytes) {
            let o = out;
            let i = p;
            for (; i + 4 <= end; i += 4) {
              const v =
                (B64[chunk[i]!]! << 18) |
                (B64[chunk[i + 1]!]! << 12) |
                (B64[chunk[i + 2]!]! << 6) |
                B64[chunk[i + 3]!]!;
              bytes[o++] = v >>> 16;
              bytes[o++] = (v >>> 8) & 0xff;
              bytes[o++] = v & 0xff;
            }
            if (end - i === 2) bytes[o] = (B64[chunk[i]!]! << 2) | (B64[chunk[i + 1]!]! >> 4);
            else if (end - i === 3) {
              const v = (B64[chunk[i]!]! << 12) | (B64[chunk[i + 1]!]! << 6) | B64[chunk[i + 2]!]!;
              bytes[o] = v >>> 10;
              bytes[o + 1] = (v >>> 2) & 0xff;
            }
          }
          out += count;
          if (offsets) offsets[tokens + 1] = out;
          if (count > maxTokenBytes) maxTokenBytes = count;
          tokens++;
        }
        if (nl >= have) {
          p = have;
          break;
        }
        p = nl + 1;
      }
      if (p === 0 && have === CHUNK_BYTES) {
        throw new RankTableError('BPE_RANKS_MALFORMED', `${path} line ${tokens + 1}: too long`);
      }
      chunk.copyWithin(0, p, have);
      have -= p;
    }
  } finally {
    closeSync(fd);
  }
  return { tokens, totalBytes: out, maxTokenBytes };
}

interface Scanned {
  tokens: number;
  totalBytes: number;
  maxTokenBytes: number;
}

/** Reads a .tiktoken file. Ranks must be 0, 1, 2, ... in line order, as in OpenAI's published files. */
export function readTiktoken(path: string): RankTable {
  // Two passes: the first sizes the arrays exactly, the second fills them.
  const { tokens: size, totalBytes } = scan(path, null, null);
  const bytes = new Uint8Array(totalBytes);
  const offsets = new Uint32Array(size + 1);
  const { maxTokenBytes } = scan(path, bytes, offsets);
  let cap = 1;
  while (cap < size * 2) cap *= 2;
  const table: RankTable = {
    bytes,
    offsets,
    slots: new Int32Array(cap).fill(-1),
    mask: cap - 1,
    size,
    byteRanks: new Int32Array(256),
    maxTokenBytes,
  };
  for (let r = 0; r < size; r++) {
    let s = hashBytes(bytes, offsets[r]!, offsets[r + 1]!) & table.mask;
    while (table.slots[s]! >= 0) s = (s + 1) & table.mask;
    table.slots[s] = r;
  }
  const one = new Uint8Array(1);
  for (let b = 0; b < 256; b++) {
    one[0] = b;
    const r = rankOf(table, one, 0, 1);
    if (r < 0) throw new RankTableError('BPE_RANKS_INCOMPLETE', `${path}: byte ${b} has no token`);
    table.byteRanks[b] = r;
  }
  return table;
}

const resolve = createRequire(import.meta.url).resolve;

/** Reads the encoding's rank file from the installed gpt-tokenizer package. */
export function loadRankTable(name: 'o200k_base' | 'cl100k_base'): RankTable {
  return readTiktoken(resolve(`gpt-tokenizer/data/${name}.tiktoken`));
}
