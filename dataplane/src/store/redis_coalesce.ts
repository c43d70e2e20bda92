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

interface Pending<T> {
  items: T[];
  specs: string[];
  waiters: Array<(r: unknown) => void>;
}

/**
 * Sends the specs of one turn (per group: a Redis Cluster call must stay within one slot). `send`
 * never rejects: it resolves to one entry per item, or to the CallFailed shared by all of them.
 */
export type SendCall<T> = (items: T[], specs: string[]) => Promise<unknown[] | CallFailed>;

export class TurnCoalescer<T> {
  readonly #send: SendCall<T>;
  readonly #before: (() => void) | undefined;
  readonly #groups = new Map<string, Pending<T>>();
  #scheduled = false;

  /** `before`: runs as this turn's calls are sent, just before them (another coalescer's flush) */
  constructor(send: SendCall<T>, before?: () => void) {
    this.#send = send;
    this.#before = before;
  }

  /** Joins the current turn's call; resolves to this item's reply entry or to the call's CallFailed. */
  add(item: T, spec: string, group = ''): Promise<unknown> {
    let p = this.#groups.get(group);
    if (!p) {
      p = { items: [], specs: [], waiters: [] };
      this.#groups.set(group, p);
    }
    const pending = p;
    pending.items.push(item);
    pending.specs.push(spec);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#flush);
    }
    return new Promise((resolve) => {
      pending.waiters.push(resolve);
    });
  }

  /** Sends what this turn has gathered now (its scheduled turn end then finds nothing to send). */
  flush(): void {
    this.#flush();
  }

  readonly #flush = (): void => {
    this.#scheduled = false;
    this.#before?.();
    for (const [group, p] of this.#groups) {
      this.#groups.delete(group);
      this.#send(p.items, p.specs).then(
        (out) => {
          for (let i = 0; i < p.waiters.length; i++) p.waiters[i]?.(Array.isArray(out) ? out[i] : out);
        },
        // send never rejects; if it did, every waiter still gets an answer rather than hanging
        (err: unknown) => {
          const failed = new CallFailed(err, Promise.resolve());
          for (const w of p.waiters) w(failed);
        },
      );
    }
  };
}
