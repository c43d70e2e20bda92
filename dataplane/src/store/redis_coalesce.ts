// Coalescing the store's script calls: every admission (or settlement) a replica issues in one
// event-loop turn is sent to Redis as ONE script call at the end of that turn (setImmediate: after the
// I/O callbacks that produced them, before the loop waits again), and each caller gets its own entry
// of the reply. At a low request rate a turn holds one request and nothing waits longer than before;
// under load one EVALSHA, one deadline timer and one reply carry a whole turn's requests.
//
// Exactness is the script's (redis_scripts.ts): the batches of one call run one after the other, alone
// on the server, exactly as the same calls sent back to back would. The outcome of a call is one
// thing for all its batches (answered, failed, timed out), and the store handles each batch's share of
// it as it handled a single call before: see store/redis.ts.

/** The outcome of one call for every batch in it that did not get its own entry. */
export class CallFailed {
  readonly error: unknown;
  /** the call itself, still running when its deadline passed: a late reply may yet come */
  readonly call: Promise<unknown>;
  constructor(error: unknown, call: Promise<unknown>) {
    this.error = error;
    this.call = call;
  }
}

/**
 * One call being gathered: the items (a caller's entry in the reply is at the index its item had)
 * and the reply, one promise shared by every caller in the call rather than one per request.
 */
export interface TurnCall<T> {
  readonly items: readonly T[];
  readonly reply: Promise<unknown[] | CallFailed>;
}

interface Pending<T> extends TurnCall<T> {
  group: string;
  items: T[];
  specs: string[];
  resolve: (out: unknown[] | CallFailed) => void;
}

/**
 * Sends the specs of one turn (per group: a Redis Cluster call must stay within one slot). `send`
 * never rejects: it resolves to one entry per item, or to the CallFailed shared by all of them.
 */
export type SendCall<T> = (items: T[], specs: string[]) => Promise<unknown[] | CallFailed>;

/** This caller's share of a call's outcome: its own entry, or the failure of the whole call. */
export const entryOf = (out: unknown[] | CallFailed, at: number): unknown =>
  out instanceof CallFailed ? out : out[at];

/**
 * The most batches one call carries: a script runs alone on Redis, so a call of thousands of batches
 * would hold every other client (the other replicas included) for milliseconds. A fuller turn is
 * sent as several calls.
 */
export const MAX_BATCHES_PER_CALL = 64;

export class TurnCoalescer<T> {
  readonly #send: SendCall<T>;
  readonly #before: (() => void) | undefined;
  /**
   * This turn's calls, one per group: an array emptied at the turn's end, not a Map. A Map emptied
   * every turn rehashes into a new table each time, and V8 links the old table to the new one (for
   * live iterators): one promoted table then kept every later turn's table, calls and batches alive
   * through two scavenges, promoting them all (bench/alloc.ts --survivors, issue 16).
   */
  readonly #calls: Pending<T>[] = [];
  #scheduled = false;

  /** `before`: runs as this turn's calls are sent, just before them (another coalescer's flush) */
  constructor(send: SendCall<T>, before?: () => void) {
    this.#send = send;
    this.#before = before;
  }

  /**
   * Joins the current turn's call of `group` and returns it: this item's entry of `reply` is at
   * `items.length - 1` as add returns (read it before awaiting).
   */
  add(item: T, spec: string, group = ''): TurnCall<T> {
    // a turn has one call per Cluster slot it touches (one on a standalone Redis): a short scan
    let at = 0;
    while (at < this.#calls.length && this.#calls[at]?.group !== group) at++;
    let p = this.#calls[at];
    if (!p) {
      let resolve!: (out: unknown[] | CallFailed) => void;
      const reply = new Promise<unknown[] | CallFailed>((r) => {
        resolve = r;
      });
      p = { group, items: [], specs: [], reply, resolve };
      this.#calls.push(p);
    }
    p.items.push(item);
    p.specs.push(spec);
    if (p.items.length >= MAX_BATCHES_PER_CALL) {
      // full: sent at once (the turn's settlements first, as at the turn's end); the next start a new call
      this.#calls.splice(at, 1);
      this.#before?.();
      this.#sendCall(p);
    } else if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#flush);
    }
    return p;
  }

  /** Sends what this turn has gathered now (its scheduled turn end then finds nothing to send). */
  flush(): void {
    this.#flush();
  }

  readonly #flush = (): void => {
    this.#scheduled = false;
    this.#before?.();
    const calls = this.#calls.splice(0);
    for (const p of calls) this.#sendCall(p);
  };

  #sendCall(p: Pending<T>): void {
    // send never rejects; if it did, every caller still gets an answer rather than hanging
    this.#send(p.items, p.specs).then(p.resolve, (err: unknown) =>
      p.resolve(new CallFailed(err, Promise.resolve())),
    );
  }
}
