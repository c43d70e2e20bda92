// Stop sequences Sluice enforces itself, for a backend that cannot be asked for them (Anthropic
// refuses whitespace-only stop sequences, which OpenAI clients send: `stop: ["\n"]`). The answer is cut
// where the first of them completes, the sequence itself left out, as OpenAI does.
//
// The text arrives in pieces, and a sequence may span two of them, so the end of a piece that could
// still become a sequence is held back until the next piece shows whether it does. Each sequence has
// its own Knuth-Morris-Pratt automaton: every character advances each automaton once (amortised), so
// the work is linear in the text for a bounded number of sequences, whatever they hold.

/** Failure function: for each prefix length, the longest proper border of that prefix. */
function borders(s: string): Int32Array {
  const f = new Int32Array(s.length + 1);
  f[0] = -1;
  let k = -1;
  for (let i = 0; i < s.length; i++) {
    while (k >= 0 && s.charCodeAt(k) !== s.charCodeAt(i)) k = f[k] as number;
    k++;
    f[i + 1] = k;
  }
  return f;
}

export interface StopStep {
  /** text the client may get now */
  release: string;
  /** a stop sequence completed: nothing after `release` belongs to the answer */
  stopped: boolean;
}

export class StopMatcher {
  readonly #stops: string[];
  readonly #borders: Int32Array[];
  /** per sequence: how many of its first characters the text seen so far ends with */
  readonly #matched: Int32Array;
  /** text seen but not released: the longest end of it that is still the start of a sequence */
  #held = '';
  #stopped = false;

  /** `stops`: non-empty strings, a few (the caller bounds how many) */
  constructor(stops: readonly string[]) {
    this.#stops = [...stops];
    this.#borders = this.#stops.map(borders);
    this.#matched = new Int32Array(this.#stops.length);
  }

  push(text: string): StopStep {
    if (this.#stopped) return { release: '', stopped: true };
    const held = this.#held;
    const stops = this.#stops;
    const matched = this.#matched;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      for (let k = 0; k < stops.length; k++) {
        const s = stops[k] as string;
        const f = this.#borders[k] as Int32Array;
        let m = matched[k] as number;
        while (m >= 0 && s.charCodeAt(m) !== c) m = f[m] as number;
        m++;
        matched[k] = m;
        if (m === s.length) {
          // the sequence ends at text[i]: it starts s.length - 1 characters before, possibly in `held`
          this.#stopped = true;
          this.#held = '';
          const end = held.length + i + 1 - s.length;
          return { release: (held + text).slice(0, end), stopped: true };
        }
      }
    }
    let keep = 0;
    for (let k = 0; k < stops.length; k++) keep = Math.max(keep, matched[k] as number);
    const all = held + text;
    this.#held = all.slice(all.length - keep);
    return { release: all.slice(0, all.length - keep), stopped: false };
  }

  /** The answer ended (or other output follows) before a held start became a sequence: release it. */
  flush(): string {
    const held = this.#held;
    this.#held = '';
    this.#matched.fill(0);
    return held;
  }
}
