// The in-memory store: the default for a single replica, and the local fallback (with limit/N shares)
// when Redis is unreachable and the policy fails open. Same semantics as the Redis Lua scripts
// (store/redis_scripts.ts): check everything first, then charge everything, in one synchronous step,
// which is what makes it atomic on Node's single thread.
import type {
  AdmitBatch,
  AdmitResult,
  Placement,
  RateState,
  SettleBatch,
  Store,
  StoreHealth,
} from './types.ts';

interface Entry {
  value: number;
  expireAt: number;
}

const SWEEP_MS = 30_000;

export class MemoryStore implements Store {
  readonly type = 'memory' as const;
  readonly #values = new Map<string, Entry>();
  readonly #slots = new Map<string, Map<string, number>>();
  /** reservation key -> expiry: admissions not yet settled (see ReservationRef) */
  readonly #reservations = new Map<string, number>();
  readonly #now: () => number;
  readonly #sweeper: NodeJS.Timeout;

  constructor(now: () => number = Date.now) {
    this.#now = now;
    // Expired keys are also dropped on read; the sweep bounds memory for keys nobody reads again.
    this.#sweeper = setInterval(() => this.sweep(), SWEEP_MS);
    this.#sweeper.unref();
  }

  #get(key: string, now: number): number | undefined {
    const e = this.#values.get(key);
    if (!e) return undefined;
    if (e.expireAt <= now) {
      this.#values.delete(key);
      return undefined;
    }
    return e.value;
  }

  #liveSlots(key: string, now: number): Map<string, number> {
    let slots = this.#slots.get(key);
    if (!slots) {
      slots = new Map();
      this.#slots.set(key, slots);
    }
    for (const [id, exp] of slots) if (exp <= now) slots.delete(id);
    return slots;
  }

  /** Synchronous core, also used by the Redis store's fail-open fallback. */
  admitNow(batch: AdmitBatch): AdmitResult {
    const now = this.#now();
    const tats: number[] = [];
    for (const [i, op] of batch.rates.entries()) {
      const tat = Math.max(this.#get(op.key, now) ?? now, now);
      const newTat = tat + op.emissionMs;
      const allowAt = newTat - op.burst * op.emissionMs;
      if (now < allowAt) return { ok: false, kind: 'rate', index: i, retryAfterMs: Math.ceil(allowAt - now) };
      tats.push(newTat);
    }
    for (const [i, op] of batch.concurrency.entries()) {
      if (this.#liveSlots(op.key, now).size >= op.max)
        return { ok: false, kind: 'concurrency', index: i, retryAfterMs: 1_000 };
    }
    let grant = batch.wantOutput;
    let tightest = -1;
    const used: number[] = [];
    for (const [i, op] of batch.windows.entries()) {
      const u = this.#get(op.key, now) ?? 0;
      used.push(u);
      if (u + op.fixed > op.limit)
        return { ok: false, kind: 'window', index: i, retryAfterMs: op.resetMs, used: u };
      if (op.perOutput > 0) {
        const cap = Math.floor((op.limit - u - op.fixed) / op.perOutput + 1e-9);
        if (cap < grant || tightest < 0) {
          grant = Math.min(grant, cap);
          tightest = i;
        }
      }
    }
    const tight = tightest >= 0 ? batch.windows[tightest] : undefined;
    if (batch.wantOutput > 0 && tight && grant < 1)
      return {
        ok: false,
        kind: 'window',
        index: tightest,
        retryAfterMs: tight.resetMs,
        used: used[tightest],
      };

    const rates: RateState[] = batch.rates.map((op, i) => {
      const newTat = tats[i] as number;
      this.#values.set(op.key, { value: newTat, expireAt: newTat });
      return {
        remaining: Math.max(0, Math.floor((now - newTat) / op.emissionMs + op.burst)),
        resetMs: Math.ceil(newTat - now),
      };
    });
    for (const op of batch.concurrency) this.#liveSlots(op.key, now).set(op.id, now + op.leaseMs);
    const windowsUsed = batch.windows.map((op, i) => {
      const next = (used[i] as number) + op.fixed + op.perOutput * grant;
      this.#values.set(op.key, { value: next, expireAt: now + op.ttlMs });
      return next;
    });
    if (batch.reservation) this.#reservations.set(batch.reservation.key, now + batch.reservation.ttlMs);
    return { ok: true, grant, rates, windowsUsed };
  }

  /** Applies the settlement; false when it names a reservation that is already closed (or expired). */
  settleNow(batch: SettleBatch): boolean {
    const now = this.#now();
    if (batch.reservation !== undefined) {
      const exp = this.#reservations.get(batch.reservation);
      if (exp === undefined || exp <= now) return false;
      this.#reservations.delete(batch.reservation);
    }
    for (const w of batch.windows) {
      const e = this.#values.get(w.key);
      // A window that already ended keeps no counter to correct.
      if (!e || e.expireAt <= now) continue;
      e.value = Math.max(0, e.value + w.delta);
    }
    for (const c of batch.concurrency) {
      const slots = this.#slots.get(c.key);
      slots?.delete(c.id);
      if (slots && slots.size === 0) this.#slots.delete(c.key);
    }
    return true;
  }

  /** Current value of a counter (tests and the fallback sync use it). */
  peek(key: string): number | undefined {
    return this.#get(key, this.#now());
  }

  async admit(batch: AdmitBatch): Promise<{ result: AdmitResult; placement: Placement }> {
    return { result: this.admitNow(batch), placement: 'primary' };
  }

  async settle(batch: SettleBatch): Promise<void> {
    this.settleNow(batch);
  }

  sweep(): void {
    const now = this.#now();
    for (const [k, e] of this.#values) if (e.expireAt <= now) this.#values.delete(k);
    for (const [k, exp] of this.#reservations) if (exp <= now) this.#reservations.delete(k);
    for (const [k, slots] of this.#slots) {
      for (const [id, exp] of slots) if (exp <= now) slots.delete(id);
      if (slots.size === 0) this.#slots.delete(k);
    }
  }

  get size(): number {
    return this.#values.size + this.#slots.size + this.#reservations.size;
  }

  health(): StoreHealth {
    return { type: 'memory', healthy: true, mode: 'local' };
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper);
  }
}
