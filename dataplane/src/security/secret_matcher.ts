// Finding configured secrets in text in one pass, however many secrets there are.
//
// Long secrets (>= MIN_FRAGMENT characters) go into one suffix automaton over all of them: walking the
// text through it gives, at every position, the longest run ending there that occurs inside some
// secret, so a whole key, its first 10 characters or its last 12 are all found the same way. Runs
// shorter than MIN_FRAGMENT are left alone: they occur in ordinary text by chance.
// Short secrets cannot be recognised by pieces without mangling ordinary text, so they are matched
// whole, by an Aho-Corasick automaton (the caller also withholds free text from their providers).
// Both are built once per config load; a scan is linear in the text (amortised O(1) per character).

export const MIN_FRAGMENT = 8;

/** Suffix automaton of several strings: a separator no text character equals ends each one. */
class SuffixAutomaton {
  readonly #next: Array<Map<number, number>> = [new Map()];
  readonly #link: number[] = [-1];
  readonly #len: number[] = [0];
  #last = 0;

  add(s: string, separator: number): void {
    for (let i = 0; i < s.length; i++) this.#extend(s.charCodeAt(i));
    this.#extend(separator);
  }

  #extend(c: number): void {
    const next = this.#next;
    const link = this.#link;
    const len = this.#len;
    const cur = next.length;
    next.push(new Map());
    len.push((len[this.#last] as number) + 1);
    link.push(0);
    let p = this.#last;
    while (p !== -1 && !(next[p] as Map<number, number>).has(c)) {
      (next[p] as Map<number, number>).set(c, cur);
      p = link[p] as number;
    }
    if (p !== -1) {
      const q = (next[p] as Map<number, number>).get(c) as number;
      if ((len[p] as number) + 1 === len[q]) link[cur] = q;
      else {
        const clone = next.length;
        next.push(new Map(next[q]));
        len.push((len[p] as number) + 1);
        link.push(link[q] as number);
        while (p !== -1 && (next[p] as Map<number, number>).get(c) === q) {
          (next[p] as Map<number, number>).set(c, clone);
          p = link[p] as number;
        }
        link[q] = clone;
        link[cur] = clone;
      }
    }
    this.#last = cur;
  }

  /** Calls mark(start, end) (end exclusive) for each maximal run of >= min characters found in a secret. */
  scan(text: string, min: number, mark: (start: number, end: number) => void): void {
    const next = this.#next;
    const link = this.#link;
    const len = this.#len;
    let state = 0;
    let l = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      while (state !== 0 && !(next[state] as Map<number, number>).has(c)) {
        state = link[state] as number;
        l = len[state] as number;
      }
      const to = (next[state] as Map<number, number>).get(c);
      if (to === undefined) {
        state = 0;
        l = 0;
      } else {
        state = to;
        l++;
      }
      if (l >= min) mark(i + 1 - l, i + 1);
    }
  }
}

/** Aho-Corasick over whole strings; reports each occurrence (the longest ending at each position). */
class AhoCorasick {
  readonly #next: Array<Map<number, number>> = [new Map()];
  readonly #fail: number[] = [0];
  /** length of the longest pattern that ends at this node (through its fail chain); 0 when none */
  readonly #out: number[] = [0];

  constructor(patterns: readonly string[]) {
    for (const p of patterns) {
      let node = 0;
      for (let i = 0; i < p.length; i++) {
        const c = p.charCodeAt(i);
        let to = (this.#next[node] as Map<number, number>).get(c);
        if (to === undefined) {
          to = this.#next.length;
          this.#next.push(new Map());
          this.#fail.push(0);
          this.#out.push(0);
          (this.#next[node] as Map<number, number>).set(c, to);
        }
        node = to;
      }
      this.#out[node] = Math.max(this.#out[node] as number, p.length);
    }
    // breadth-first: fail links and inherited outputs
    const queue: number[] = [...(this.#next[0] as Map<number, number>).values()];
    for (let qi = 0; qi < queue.length; qi++) {
      const node = queue[qi] as number;
      for (const [c, child] of this.#next[node] as Map<number, number>) {
        let f = this.#fail[node] as number;
        while (f !== 0 && !(this.#next[f] as Map<number, number>).has(c)) f = this.#fail[f] as number;
        const target = (this.#next[f] as Map<number, number>).get(c);
        this.#fail[child] = target !== undefined && target !== child ? target : 0;
        this.#out[child] = Math.max(
          this.#out[child] as number,
          this.#out[this.#fail[child] as number] as number,
        );
        queue.push(child);
      }
    }
  }

  scan(text: string, mark: (start: number, end: number) => void): void {
    let node = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      while (node !== 0 && !(this.#next[node] as Map<number, number>).has(c))
        node = this.#fail[node] as number;
      node = (this.#next[node] as Map<number, number>).get(c) ?? 0;
      const out = this.#out[node] as number;
      if (out > 0) mark(i + 1 - out, i + 1);
    }
  }
}

/** The forms in which an upstream may echo a secret: as sent, JSON-escaped, URL-encoded, base64. */
export function secretVariants(secret: string): string[] {
  const forms = new Set([secret]);
  forms.add(JSON.stringify(secret).slice(1, -1));
  forms.add(encodeURIComponent(secret));
  if (secret.length >= MIN_FRAGMENT)
    forms.add(Buffer.from(secret, 'utf8').toString('base64').replace(/=+$/, ''));
  return [...forms];
}

/** Finds every configured secret (and every run of >= MIN_FRAGMENT characters of a long one). */
export class SecretMatcher {
  readonly #long: SuffixAutomaton | undefined;
  readonly #short: AhoCorasick | undefined;

  constructor(secrets: Iterable<string>) {
    const long: string[] = [];
    const short: string[] = [];
    for (const s of secrets) {
      if (!s) continue;
      for (const v of secretVariants(s)) (v.length >= MIN_FRAGMENT ? long : short).push(v);
    }
    if (long.length) {
      const sam = new SuffixAutomaton();
      // separators are negative, so no text character (0..0xffff) ever matches across two secrets
      long.forEach((s, i) => {
        sam.add(s, -1 - i);
      });
      this.#long = sam;
    }
    if (short.length) this.#short = new AhoCorasick(short);
  }

  get empty(): boolean {
    return !this.#long && !this.#short;
  }

  /** Calls mark(start, end) for every secret occurrence found (ranges may overlap). */
  scan(text: string, mark: (start: number, end: number) => void): void {
    this.#long?.scan(text, MIN_FRAGMENT, mark);
    this.#short?.scan(text, mark);
  }
}
