// One process-wide budget for the bytes that request bodies and whole (non-streamed) upstream answers
// hold while a request is in flight. Without it, a handful of concurrent 10 MB bodies plus a few large
// upstream answers pushed a replica past its container's memory limit (issue 13): the kernel's OOM
// kill takes every in-flight request down, while a refused request (503 + Retry-After) costs one
// retry, maybe on another replica. docs/security.md ("Sizing memory") relates it to the pod's limit.
import { GatewayError } from '../errors.ts';

/** Seconds a refused client is told to wait: bodies in flight usually finish within a second or two. */
const RETRY_AFTER_S = 1;

/**
 * The most of the budget one namespace may hold when several are configured, so one tenant's large
 * requests cannot take all of it and leave every other tenant with 503s.
 */
export const NAMESPACE_SHARE = 0.5;

export class MemoryBudget {
  #limit: number;
  #share = 1;
  #used = 0;
  readonly #byNamespace = new Map<string, number>();

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** The limit follows the live config (reloads); what is held stays held until given back. */
  setLimit(limit: number, namespaceShare = 1): void {
    this.#limit = limit;
    this.#share = namespaceShare;
  }

  get limit(): number {
    return this.#limit;
  }

  get used(): number {
    return this.#used;
  }

  /**
   * Takes `bytes` for `namespace` if they fit in the budget and in the namespace's share of it; else
   * says which did not. A request never waits for room (waiting would hold its socket and body).
   */
  tryTake(bytes: number, namespace = ''): true | 'replica' | 'namespace' {
    if (this.#used + bytes > this.#limit) return 'replica';
    const mine = this.#byNamespace.get(namespace) ?? 0;
    if (mine + bytes > this.#limit * this.#share) return 'namespace';
    this.#used += bytes;
    this.#byNamespace.set(namespace, mine + bytes);
    return true;
  }

  give(bytes: number, namespace = ''): void {
    this.#used = Math.max(0, this.#used - bytes);
    const left = (this.#byNamespace.get(namespace) ?? 0) - bytes;
    if (left > 0) this.#byNamespace.set(namespace, left);
    else this.#byNamespace.delete(namespace);
  }
}

export const memoryBudget = new MemoryBudget(160 * 1024 * 1024);

export function overloaded(what: string, namespace?: string): GatewayError {
  const why = namespace
    ? `namespace '${namespace}' holds its share (${NAMESPACE_SHARE * 100}%) of this replica's memory budget`
    : 'this replica holds as much request and response data as its memory budget allows';
  return new GatewayError('SLUICE_ERR_OVERLOADED', `${why} (${what}); retry shortly`, {
    headers: { 'retry-after': String(RETRY_AFTER_S) },
  });
}

/**
 * A holder of budget bytes for one request: takes more as data arrives and gives everything back
 * once, when the response is over (its 'close' event, which also fires when the client goes away).
 */
export class BudgetHold {
  #held = 0;
  #closed = false;
  readonly #budget: MemoryBudget;
  readonly #namespace: string;
  /** why the last take failed: the replica's budget, or the namespace's share of it */
  refusedBy: 'replica' | 'namespace' | undefined;

  constructor(budget: MemoryBudget, onDone: { on(event: 'close', fn: () => void): unknown }, namespace = '') {
    this.#budget = budget;
    this.#namespace = namespace;
    // on, not once: a response closes once (and release() runs once anyway), and once() wraps every
    // listener in two more objects
    onDone.on('close', () => this.release());
  }

  take(bytes: number): boolean {
    if (this.#closed) return false;
    const taken = this.#budget.tryTake(bytes, this.#namespace);
    if (taken !== true) {
      this.refusedBy = taken;
      return false;
    }
    this.#held += bytes;
    return true;
  }

  /** The 503 for the last refused take. */
  refusal(what: string): GatewayError {
    return overloaded(what, this.refusedBy === 'namespace' ? this.#namespace : undefined);
  }

  /** Gives back part of the hold early (e.g. the raw body once it has been parsed). */
  give(bytes: number): void {
    const n = Math.min(bytes, this.#held);
    this.#held -= n;
    this.#budget.give(n, this.#namespace);
  }

  get held(): number {
    return this.#held;
  }

  release(): void {
    this.#closed = true;
    this.#budget.give(this.#held, this.#namespace);
    this.#held = 0;
  }
}
