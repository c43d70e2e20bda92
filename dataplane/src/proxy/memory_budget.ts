// One process-wide budget for the bytes that request bodies and whole (non-streamed) upstream answers
// hold while a request is in flight. Without it, a handful of concurrent 10 MB bodies plus a few large
// upstream answers pushed a replica past its container's memory limit (issue 13): the kernel's OOM
// kill takes every in-flight request down, while a refused request (503 + Retry-After) costs one
// retry, maybe on another replica. docs/security.md ("Sizing memory") relates it to the pod's limit.
import { GatewayError } from '../errors.ts';

/** Seconds a refused client is told to wait: bodies in flight usually finish within a second or two. */
const RETRY_AFTER_S = 1;

export class MemoryBudget {
  #limit: number;
  #used = 0;

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** The limit follows the live config (reloads); what is held stays held until given back. */
  setLimit(limit: number): void {
    this.#limit = limit;
  }

  get limit(): number {
    return this.#limit;
  }

  get used(): number {
    return this.#used;
  }

  /** Takes `bytes` if they fit; a request never waits for room (waiting would hold its socket and body). */
  tryTake(bytes: number): boolean {
    if (this.#used + bytes > this.#limit) return false;
    this.#used += bytes;
    return true;
  }

  give(bytes: number): void {
    this.#used = Math.max(0, this.#used - bytes);
  }
}

export const memoryBudget = new MemoryBudget(160 * 1024 * 1024);

export function overloaded(what: string): GatewayError {
  return new GatewayError(
    'SLUICE_ERR_OVERLOADED',
    `this replica is holding as much request and response data as its memory budget allows (${what}); retry shortly`,
    { headers: { 'retry-after': String(RETRY_AFTER_S) } },
  );
}

/**
 * A holder of budget bytes for one request: takes more as data arrives and gives everything back
 * once, when the response is over (its 'close' event, which also fires when the client goes away).
 */
export class BudgetHold {
  #held = 0;
  #closed = false;
  readonly #budget: MemoryBudget;

  constructor(budget: MemoryBudget, onDone: { once(event: 'close', fn: () => void): unknown }) {
    this.#budget = budget;
    onDone.once('close', () => this.release());
  }

  take(bytes: number): boolean {
    if (this.#closed || !this.#budget.tryTake(bytes)) return false;
    this.#held += bytes;
    return true;
  }

  /** Gives back part of the hold early (e.g. the raw body once it has been parsed). */
  give(bytes: number): void {
    const n = Math.min(bytes, this.#held);
    this.#held -= n;
    this.#budget.give(n);
  }

  get held(): number {
    return this.#held;
  }

  release(): void {
    this.#closed = true;
    this.#budget.give(this.#held);
    this.#held = 0;
  }
}
