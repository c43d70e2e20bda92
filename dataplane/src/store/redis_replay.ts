// What the Redis store still owes Redis: settlements, cancellations (of admissions whose outcome was
// lost: see abandon) and the merge of usage counted locally during an outage. Each is idempotent (it names its reservation record, tombstone or merge
// id), so they are queued while Redis is away or a call's outcome is unknown, and replayed once it
// answers: in order, in pipelined rounds, the settlements of a round as one SETTLE_MANY per Cluster
// slot. A replay whose reply is lost is simply replayed again.
import { randomUUID } from 'node:crypto';
import type { Timed } from './deadline.ts';
import {
  type AdmitReply,
  hashTag,
  parseAdmitReplies,
  RefusedBatch,
  type ReplayOp,
  settleSpec,
} from './redis_admission.ts';
import type { ScriptCalls } from './redis_calls.ts';
import type { AdmitBatch, SettleBatch } from './types.ts';

/** Operations waiting for Redis (bounded: beyond it, reservations and leases expire on their own). */
const MAX_PENDING_OPS = 10_000;
/** Replayed operations sent together (one pipeline) per round trip. */
const REPLAY_BATCH = 64;

/** What the queue needs of its store: the calls, their deadline, and the circuit. */
export interface ReplayHost {
  readonly calls: ScriptCalls;
  readonly retryIntervalMs: number;
  timed<T>(p: Promise<T>): Promise<Timed<T>>;
  /** a replay failed: counts toward the circuit like any failed command */
  failed(err: unknown): void;
  /** Redis refused an operation: done with (it would be refused again), logged */
  refused(err: unknown): void;
  /** while the circuit is open nothing is sent: the store's recovery flushes */
  isOpen(): boolean;
  isClosed(): boolean;
}

export class ReplayQueue {
  readonly #host: ReplayHost;
  #ops: ReplayOp[] = [];
  /** window key -> usage admitted locally while Redis was away, merged back on recovery */
  readonly #unmerged = new Map<string, { delta: number; expireAt: number }>();
  readonly #windowExpiry = new Map<string, number>();
  #flushing: Promise<boolean> | undefined;
  #flushTimer: NodeJS.Timeout | undefined;

  constructor(host: ReplayHost) {
    this.#host = host;
  }

  get pending(): number {
    return this.#ops.length;
  }

  get hasWork(): boolean {
    return this.#ops.length > 0 || this.#unmerged.size > 0;
  }

  enqueue(op: ReplayOp): void {
    if (this.#ops.length >= MAX_PENDING_OPS) return;
    this.#ops.push(op);
    if (!this.#host.isOpen()) void this.flush();
  }

  /**
   * The requests no longer wait for this call (it timed out or failed), but Redis may have run it or
   * may still run it. Whatever each batch's outcome, it is undone by id, so a request is charged only
   * where it was served: as soon as a late reply says its batch was granted, or once Redis is back
   * when no reply will come (the tombstone then also stops a copy still in flight from charging).
   */
  abandon(batches: AdmitBatch[], specs: string[], call: Promise<unknown>): void {
    call.then(
      (raw) => {
        let replies: AdmitReply[];
        try {
          replies = parseAdmitReplies(raw, batches.length);
        } catch {
          return; // a reply that is not ours charged nothing we can name
        }
        // denied, refused or stopped by a tombstone: nothing was charged
        replies.forEach((r, i) => {
          const batch = batches[i];
          if (r.ok && batch) this.enqueue({ kind: 'cancel', batch, spec: specs[i] ?? '', granted: true });
        });
      },
      () => {
        // Without a reservation record nothing tells later whether it ran: only rate slots, which a
        // bucket's refill returns, can be over-counted that way (docs/policies.md).
        batches.forEach((batch, i) => {
          if (batch.reservation)
            this.enqueue({ kind: 'cancel', batch, spec: specs[i] ?? '', granted: false });
        });
      },
    );
  }

  /** Usage admitted (or corrected) on the local share, to be merged into the window in Redis. */
  recordLocal(key: string, delta: number, expireAt?: number): void {
    if (expireAt !== undefined) this.#windowExpiry.set(key, expireAt);
    const exp = expireAt ?? this.#windowExpiry.get(key) ?? Date.now() + 3_600_000;
    const cur = this.#unmerged.get(key);
    this.#unmerged.set(key, { delta: (cur?.delta ?? 0) + delta, expireAt: exp });
  }

  /** Replays queued operations in order (each is idempotent); false if Redis failed on one. */
  flush(): Promise<boolean> {
    this.#flushing ??= this.#flushOps().then((ok) => {
      this.#flushing = undefined;
      // Operations that came in as the loop ended, or a failure while the circuit stays closed (no
      // probe runs then, and an idle replica sends no command that would flush): try again soon.
      if (!this.#host.isOpen() && !this.#host.isClosed() && this.hasWork)
        this.#flushLater(ok ? 0 : this.#host.retryIntervalMs);
      return ok;
    });
    return this.#flushing;
  }

  close(): void {
    clearTimeout(this.#flushTimer);
  }

  #flushLater(ms: number): void {
    if (this.#flushTimer) return;
    this.#flushTimer = setTimeout(() => {
      this.#flushTimer = undefined;
      void this.flush();
    }, ms);
    this.#flushTimer.unref();
  }

  async #flushOps(): Promise<boolean> {
    for (const [key, u] of this.#unmerged) {
      // an id per merge: replayed after a lost reply, Redis adds it once
      if (u.delta !== 0) this.#ops.push({ kind: 'merge', key, id: randomUUID(), ...u });
      this.#unmerged.delete(key);
    }
    // Operations are independent (each is idempotent and names its own reservation, merge id or
    // window), so they go out in pipelined batches rather than one round trip at a time: hundreds of
    // them after a stall must not take seconds while the windows they correct are read by admissions.
    while (this.#ops.length > 0) {
      const batch = this.#ops.slice(0, REPLAY_BATCH);
      const results = await Promise.all(this.#replay(batch));
      const failed = batch.filter((_, i) => !results[i]?.ok);
      this.#ops.splice(0, batch.length, ...failed);
      const err = results.find((r) => !r.ok);
      if (err && !err.ok) {
        this.#host.failed(err.error);
        return false;
      }
    }
    return true;
  }

  /** The outcome of each op; the settlements go out as one SETTLE_MANY per Cluster slot. */
  #replay(ops: ReplayOp[]): Array<Promise<Timed<unknown>>> {
    const { calls } = this.#host;
    const out: Array<Promise<Timed<unknown>>> = [];
    const settles = new Map<string, { at: number[]; batches: SettleBatch[]; specs: string[] }>();
    ops.forEach((op, i) => {
      if (op.kind === 'cancel') out[i] = this.#host.timed(calls.cancel(op.batch, op.spec, op.granted));
      else if (op.kind === 'merge') {
        const ttl = op.expireAt - Date.now();
        out[i] =
          ttl <= 0
            ? Promise.resolve({ ok: true, value: 0 }) // the window is over: nothing left to correct
            : this.#host.timed(calls.merge(op.key, `${hashTag(op.key)}:mrg:${op.id}`, op.delta, ttl));
      } else {
        let spec: string;
        try {
          spec = settleSpec(op.batch);
        } catch (err) {
          this.#host.refused(err); // a spec that cannot be written now never can: done with
          out[i] = Promise.resolve({ ok: true, value: 0 });
          return;
        }
        const b = op.batch;
        const group = calls.group(b.windows[0]?.key ?? b.concurrency[0]?.key ?? b.reservation);
        let g = settles.get(group);
        if (!g) {
          g = { at: [], batches: [], specs: [] };
          settles.set(group, g);
        }
        g.at.push(i);
        g.batches.push(b);
        g.specs.push(spec);
      }
    });
    for (const g of settles.values()) {
      const call = this.#host.timed(calls.settleMany(g.batches, g.specs));
      g.at.forEach((i, j) => {
        out[i] = call.then((r) => {
          // a refused entry is done with: Redis answered, and would refuse it again
          if (r.ok && typeof r.value[j] === 'string') this.#host.refused(new RefusedBatch(r.value[j]));
          return r;
        });
      });
    }
    return out;
  }
}
