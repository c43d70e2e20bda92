// Work reused between config loads. Two configs in a row differ in an entry or two out of thousands
// (one AIRoute changed), yet a load validated every entry and parsed every API-key list again. A
// ReuseCache remembers the results of deterministic steps by their exact input (an entry's JSON text,
// a key file's text): a hit is the value that step returned for the same input, so a load with a warm
// cache yields what a fresh load would. Only successes are stored; anything that failed runs again
// and reports its issues with its current paths. Checks across entries (unique names, references,
// tenancy, one API key in two tenants) always run over the whole config.
//
// It keeps what the last two loads used and nothing else: `rotate()` at the start of a load drops
// what the load before the last one used (a failed load does not evict the live config's entries),
// so it never grows with the number of changes. The values are the same objects the live config
// holds, so the cost of the cache is its keys.
export class ReuseCache {
  #current = new Map<string, unknown>();
  #previous = new Map<string, unknown>();
  /**
   * Results keyed by a value this cache handed out (a parsed entry): what was built from it, e.g. a
   * compiled route. Held only while the entry itself is.
   */
  readonly derived = new WeakMap<object, unknown>();
  /** lookups answered from the cache, and not, since creation (tests count them) */
  hits = 0;
  misses = 0;

  /** Call at the start of every load. */
  rotate(): void {
    this.#previous = this.#current;
    this.#current = new Map();
  }

  get<T>(key: string): T | undefined {
    let value = this.#current.get(key);
    if (value === undefined) {
      value = this.#previous.get(key);
      if (value !== undefined) this.#current.set(key, value);
    }
    if (value === undefined) this.misses++;
    else this.hits++;
    return value as T | undefined;
  }

  set(key: string, value: unknown): void {
    this.#current.set(key, value);
  }
}
