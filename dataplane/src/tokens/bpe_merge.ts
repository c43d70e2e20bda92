// tiktoken's byte-pair merge of one pre-tokenized piece (its UTF-8 bytes) into token ids, given the
// encoding's rank table: a plain scan for short pieces and a heap for long ones, in the same merge order.
// bpe.ts splits text into pieces and calls this for those that are not a token whole.
import { type RankTable, rankOf } from './bpe_ranks.ts';

/** Below this many bytes the plain O(n²) merge scan is fastest; above it a heap keeps long pieces O(n log n). */
const HEAP_MIN_BYTES = 128;
/** The rank of a pair that is no token (above every real rank). */
const NONE = 0x7fffffff;
/** A heap key is rank * SHIFT + start: ranks and starts both fit in 32 bits, exactly in a double. */
const SHIFT = 2 ** 32;

/** Merges the pieces of one encoding; the short-piece scan reuses its scratch arrays on every call. */
export class PieceMerger {
  private readonly table: RankTable;
  private readonly starts = new Int32Array(HEAP_MIN_BYTES + 1);
  private readonly toks = new Int32Array(HEAP_MIN_BYTES);
  private readonly pairs = new Int32Array(HEAP_MIN_BYTES);

  constructor(table: RankTable) {
    this.table = table;
  }

  /** Token ids of the piece buf[0, n) (n >= 2). */
  merge(buf: Uint8Array, n: number): number[] {
    return n < HEAP_MIN_BYTES ? this.mergeShort(buf, n) : mergeLong(this.table, buf, n);
  }

  /**
   * tiktoken's _byte_pair_merge: repeatedly merge the adjacent pair with the lowest rank (the leftmost
   * on a tie) until no adjacent pair is a token. Parts start as single bytes, whose ranks are known.
   */
  private mergeShort(buf: Uint8Array, n: number): number[] {
    const t = this.table;
    const { starts, toks, pairs } = this;
    for (let i = 0; i < n; i++) {
      starts[i] = i;
      toks[i] = t.byteRanks[buf[i]!]!;
      pairs[i] = i + 2 <= n ? pairRank(t, buf, i, i + 2) : NONE;
    }
    starts[n] = n;
    let m = n;
    while (m > 1) {
      let best = NONE;
      let at = -1;
      for (let i = 0; i < m - 1; i++) {
        if (pairs[i]! < best) {
          best = pairs[i]!;
          at = i;
        }
      }
      if (at < 0) break;
      toks[at] = best;
      starts.copyWithin(at + 1, at + 2, m + 1);
      toks.copyWithin(at + 1, at + 2, m);
      pairs.copyWithin(at + 1, at + 2, m);
      m--;
      pairs[at] = at + 2 <= m ? pairRank(t, buf, starts[at]!, starts[at + 2]!) : NONE;
      if (at > 0) pairs[at - 1] = pairRank(t, buf, starts[at - 1]!, starts[at + 1]!);
    }
    return Array.from(toks.subarray(0, m));
  }
}

function pairRank(t: RankTable, buf: Uint8Array, start: number, end: number): number {
  const r = rankOf(t, buf, start, end);
  return r < 0 ? NONE : r;
}

/**
 * The same merge order as mergeShort for long pieces (a 256 KB run of letters or spaces): parts in a
 * linked list and candidate pairs in a binary min-heap keyed (rank, start), so the lowest rank and
 * then the leftmost pair comes out first, as the linear scan picks it. Entries made stale by a merge
 * are skipped when popped (their rank no longer matches the part's current pair rank).
 */
function mergeLong(t: RankTable, buf: Uint8Array, n: number): number[] {
  const next = new Int32Array(n);
  const prev = new Int32Array(n);
  const toks = new Int32Array(n);
  const pairs = new Int32Array(n);
  const heap = new Float64Array(3 * n);
  let size = 0;
  const push = (key: number): void => {
    let i = size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]! <= key) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = key;
  };
  const pop = (): number => {
    const top = heap[0]!;
    const last = heap[--size]!;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= size) break;
      if (child + 1 < size && heap[child + 1]! < heap[child]!) child++;
      if (heap[child]! >= last) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = last;
    return top;
  };
  for (let i = 0; i < n; i++) {
    next[i] = i + 1;
    prev[i] = i - 1;
    toks[i] = t.byteRanks[buf[i]!]!;
    pairs[i] = i + 2 <= n ? pairRank(t, buf, i, i + 2) : NONE;
    if (pairs[i] !== NONE) push(pairs[i]! * SHIFT + i);
  }
  while (size > 0) {
    const key = pop();
    const rank = Math.floor(key / SHIFT);
    const s = key - rank * SHIFT;
    if (pairs[s] !== rank) continue;
    const gone = next[s]!;
    const after = next[gone]!;
    toks[s] = rank;
    pairs[gone] = NONE;
    next[s] = after;
    if (after < n) prev[after] = s;
    pairs[s] = after < n ? pairRank(t, buf, s, next[after]!) : NONE;
    if (pairs[s] !== NONE) push(pairs[s]! * SHIFT + s);
    const before = prev[s]!;
    if (before >= 0) {
      pairs[before] = pairRank(t, buf, before, after);
      if (pairs[before] !== NONE) push(pairs[before]! * SHIFT + before);
    }
  }
  const ids: number[] = [];
  for (let i = 0; i < n; i = next[i]!) ids.push(toks[i]!);
  return ids;
}
