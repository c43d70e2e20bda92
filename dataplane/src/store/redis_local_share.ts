// Fail-open while Redis is away: each of N replicas admits on a local MemoryStore holding limit/N
// (N = store.redis.replicas), and the window usage it admits is recorded for the merge back into
// Redis once it answers (store/redis_replay.ts), so the outage's usage still counts afterwards.
import { MemoryStore } from './memory.ts';
import type { ReplayQueue } from './redis_replay.ts';
import type { AdmitBatch, AdmitResult, SettleBatch } from './types.ts';

/** The local share of a limit while Redis is away: each of N replicas takes limit/N. */
export function scaleBatch(batch: AdmitBatch, replicas: number): AdmitBatch {
  if (replicas <= 1) return batch;
  return {
    ...batch,
    rates: batch.rates.map((r) => ({
      ...r,
      emissionMs: r.emissionMs * replicas,
      burst: Math.max(1, Math.floor(r.burst / replicas)),
    })),
    concurrency: batch.concurrency.map((c) => ({ ...c, max: Math.max(1, Math.floor(c.max / replicas)) })),
    windows: batch.windows.map((w) => ({ ...w, limit: w.limit / replicas })),
  };
}

export class LocalShare {
  readonly #local = new MemoryStore();
  readonly #replicas: number;
  readonly #replay: ReplayQueue;

  constructor(replicas: number, replay: ReplayQueue) {
    this.#replicas = replicas;
    this.#replay = replay;
  }

  admit(batch: AdmitBatch): AdmitResult {
    const n = this.#replicas;
    const scaled = scaleBatch(batch, n);
    const result = this.#local.admitNow(scaled);
    if (!result.ok) return result;
    const now = Date.now();
    batch.windows.forEach((w, i) => {
      this.#replay.recordLocal(w.key, w.fixed + w.perOutput * result.grant, now + w.ttlMs);
      // Report usage on the global scale so headers stay meaningful while on the local share.
      const localUsed = result.windowsUsed[i] ?? 0;
      result.windowsUsed[i] = w.limit - ((scaled.windows[i]?.limit ?? 0) - localUsed) * n;
    });
    for (const r of result.rates) r.remaining *= n;
    return result;
  }

  /** Corrections of outage usage join the merge, whether or not Redis is back by now. */
  settle(batch: SettleBatch): void {
    if (this.#local.settleNow(batch)) for (const w of batch.windows) this.#replay.recordLocal(w.key, w.delta);
  }

  close(): Promise<void> {
    return this.#local.close();
  }
}
