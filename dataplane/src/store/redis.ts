// The Redis store: every replica runs the same Lua scripts against one Redis, so limits are shared
// exactly. The admission protocol (docs/policies.md "Admission protocol") keeps that true when the
// dataplane is busy and when Redis is slow or gone:
//   - each admission that has something to settle writes a reservation record (its id) in the same
//     script; settlements name it and apply at most once;
//   - a command is judged by store/deadline.ts, which discounts the event loop's own delay, so a
//     busy replica does not mistake itself for a Redis outage;
//   - a command that still timed out has an UNKNOWN outcome: the request is served on the local share
//     (fail-open) or refused (fail-closed), and the Redis side is cancelled by id (CANCEL_LUA) as soon
//     as the late reply or Redis itself is back, so a request is charged in one place, never two;
//   - the circuit opens when commands keep failing (failureThreshold failures in a row, spanning
//     openAfterMs) or the connection drops; while open no request waits on Redis, fail-open admits
//     on a local MemoryStore holding limit/N (N = store.redis.replicas), fail-closed answers 503;
//   - settlements, cancellations and the merge of outage usage are idempotent operations queued and
//     replayed in order once Redis answers again.
import { randomUUID } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import { GatewayError } from '../errors.ts';
import { metrics } from '../observability/metrics.ts';
import { acquireLoopLag, type LoopLag, type Timed, withinDeadline } from './deadline.ts';
import { MemoryStore } from './memory.ts';
import {
  type AdmitReply,
  admitResult,
  admitSpec,
  hashTag,
  lateReplyMs,
  maxWaitMs,
  parseAdmitReplies,
  pushAdmitKeys,
  pushSettleKeys,
  RefusedBatch,
  type ReplayOp,
  scaleBatch,
  settleSpec,
  slotGroup,
} from './redis_admission.ts';
import { CallFailed, TurnCoalescer } from './redis_coalesce.ts';
import { parseRedisUrl, type RedisSettings } from './redis_connect.ts';
import { type LuaScript, scripts } from './redis_scripts.ts';

export { lateReplyMs, maxWaitMs, scaleBatch };

import type { AdmitBatch, AdmitResult, Placement, SettleBatch, Store, StoreHealth } from './types.ts';

export interface StoreLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export interface RedisStoreOptions {
  settings: RedisSettings;
  keyPrefix: string;
  failMode: 'open' | 'closed';
  replicas: number;
  failureThreshold: number;
  /** failures must span at least this long before the circuit opens (a burst is not an outage) */
  openAfterMs?: number;
  retryIntervalMs: number;
  log?: StoreLogger;
}

/** Operations waiting for Redis (bounded: beyond it, reservations and leases expire on their own). */
const MAX_PENDING_OPS = 10_000;
/** Replayed operations sent together (one pipeline) per round trip. */
const REPLAY_BATCH = 64;
/** How long a cancelled reservation's tombstone and a merge's id are kept. */
const TOMBSTONE_MS = 10 * 60_000;

/** A call not sent because the circuit opened before its turn ended: not another failure. */
class CircuitOpen extends Error {
  constructor() {
    super('circuit open');
  }
}

export class RedisStore implements Store {
  readonly type = 'redis' as const;
  readonly #opts: RedisStoreOptions;
  readonly #client: Redis | Cluster;
  readonly #local = new MemoryStore();
  readonly #lag: { lag: LoopLag; release(): void };
  readonly #timeoutMs: number;
  /** window key -> usage admitted locally while Redis was away, merged back on recovery */
  readonly #unmerged = new Map<string, { delta: number; expireAt: number }>();
  readonly #windowExpiry = new Map<string, number>();
  #ops: ReplayOp[] = [];
  #flushing: Promise<boolean> | undefined;
  #failures = 0;
  #failingSince = 0;
  #open = false;
  #scriptsLoaded = false;
  #since = new Date().toISOString();
  #lastError: string | undefined;
  #recovering: Promise<void> | undefined;
  #probe: NodeJS.Timeout | undefined;
  #flushTimer: NodeJS.Timeout | undefined;
  #closed = false;
  #refusalLoggedAt = -Infinity;
  /** one ADMIT_MANY call per event-loop turn (per Cluster slot) */
  readonly #admits = new TurnCoalescer<AdmitBatch>((batches, specs) => this.#admitCall(batches, specs));
  /** one SETTLE_MANY call per event-loop turn (per Cluster slot) */
  readonly #settles = new TurnCoalescer<SettleBatch>((batches, specs) => this.#settleCall(batches, specs));

  constructor(opts: RedisStoreOptions) {
    this.#opts = opts;
    this.#timeoutMs = opts.settings.commandTimeoutMs;
    this.#lag = acquireLoopLag();
    // ioredis's own timeout is only the bound after which a reply counts as lost for good; whether a
    // request waits is decided by withinDeadline, which keeps the command's late reply.
    const target = parseRedisUrl({ ...opts.settings, commandTimeoutMs: lateReplyMs(this.#timeoutMs) });
    this.#client =
      target.kind === 'cluster' ? new Cluster(target.nodes, target.options) : new Redis(target.options);
    // ioredis reports connection errors as events; the circuit decides what they mean.
    this.#client.on('error', (err: Error) => {
      this.#lastError = err.message;
    });
    // A dropped connection is Redis (or the network) being gone, not a guess from timing: open now.
    this.#client.on('close', () => {
      if (!this.#closed) this.#trip('connection closed');
    });
    // A connection lost while starting (a Cluster still forming, Redis starting after us) trips the
    // circuit; once ioredis is connected again, close it now rather than at the next probe.
    this.#client.on('ready', () => void this.#tryRecover());
  }

  /**
   * Wait (bounded) for the first connection and load the scripts, so the first request runs EVALSHA
   * without a NOSCRIPT round trip. A Redis that is down at start means starting on the fallback.
   */
  async ready(timeoutMs: number): Promise<boolean> {
    const ok =
      this.#client.status === 'ready' ||
      (await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => done(false), timeoutMs);
        const done = (v: boolean) => {
          clearTimeout(timer);
          this.#client.off('ready', onReady);
          resolve(v);
        };
        const onReady = () => done(true);
        this.#client.once('ready', onReady);
      }));
    if (!ok) this.#trip(this.#lastError ?? 'Redis not reachable at start');
    else {
      await this.#loadScripts(timeoutMs);
      if (this.#open) await this.#tryRecover();
    }
    return ok;
  }

  async #loadScripts(timeoutMs: number): Promise<void> {
    const load = async () => {
      for (const s of Object.values(scripts)) {
        if (this.#client instanceof Cluster)
          await Promise.all(this.#client.nodes('master').map((n) => n.script('LOAD', s.source)));
        else await this.#client.script('LOAD', s.source);
      }
    };
    const r = await withinDeadline(load(), timeoutMs, timeoutMs, this.#lag.lag);
    // once loaded, a later failed reload (a restarted Redis) costs one EVAL by source, not readiness
    if (r.ok) this.#scriptsLoaded = true;
    else this.#lastError = String(r.error);
  }

  #key(k: string): string {
    return this.#opts.keyPrefix + k;
  }

  /** `args`: [sha, number of keys, ...keys, ...argv], the one array the command is sent from. */
  async #call(s: LuaScript, args: Array<string | number>): Promise<unknown> {
    try {
      return await this.#client.call('evalsha', args);
    } catch (err) {
      // A restarted Redis has an empty script cache: load the script by sending its source once.
      if (err instanceof Error && err.message.startsWith('NOSCRIPT')) {
        args[0] = s.source;
        return this.#client.call('eval', args);
      }
      throw err;
    }
  }

  #eval(s: LuaScript, keys: string[], argv: Array<string | number>): Promise<unknown> {
    const args: Array<string | number> = [s.sha, keys.length];
    for (const k of keys) args.push(this.#key(k));
    for (const a of argv) args.push(a);
    return this.#call(s, args);
  }

  /** Batches coalesced into one call share it; on a Cluster, only batches of one slot can. */
  #group(firstKey: string | undefined): string {
    return this.#client instanceof Cluster && firstKey !== undefined ? slotGroup(this.#key(firstKey)) : '';
  }

  /**
   * One ADMIT_MANY call for a turn's admissions, under ONE deadline. When the call fails or times
   * out, every batch in it is abandoned (see #abandon) and each caller gets the shared CallFailed.
   */
  async #admitCall(batches: AdmitBatch[], specs: string[]): Promise<unknown[] | CallFailed> {
    if (this.#open) return new CallFailed(new CircuitOpen(), Promise.resolve());
    const args: Array<string | number> = [scripts.admitMany.sha, 0];
    for (const b of batches) pushAdmitKeys(b, this.#opts.keyPrefix, args);
    args[1] = args.length - 2;
    for (const spec of specs) args.push(spec);
    const call = this.#call(scripts.admitMany, args);
    const r = await this.#timed(call);
    if (r.ok) {
      this.#succeeded();
      return parseAdmitReplies(r.value, batches.length);
    }
    this.#abandon(batches, specs, call);
    return new CallFailed(r.error, call);
  }

  /** SETTLE_MANY for `batches` (a turn's settlements, or replayed ones): one entry per batch. */
  #settleMany(batches: SettleBatch[], specs: string[]): Promise<unknown> {
    const args: Array<string | number> = [scripts.settleMany.sha, 0];
    for (const b of batches) pushSettleKeys(b, this.#opts.keyPrefix, args);
    args[1] = args.length - 2;
    for (const spec of specs) args.push(spec);
    return this.#call(scripts.settleMany, args).then((raw) => {
      if (!Array.isArray(raw) || raw.length !== batches.length)
        throw new Error(`settlement reply has no entry for each of ${batches.length} batches`);
      return raw;
    });
  }

  async #settleCall(batches: SettleBatch[], specs: string[]): Promise<unknown[] | CallFailed> {
    if (this.#open) return new CallFailed(new CircuitOpen(), Promise.resolve());
    const call = this.#settleMany(batches, specs);
    const r = await this.#timed(call);
    if (!r.ok) return new CallFailed(r.error, call);
    this.#succeeded();
    return r.value as unknown[];
  }

  /**
   * Redis answered but refused one batch (a key of the wrong type): not an outage, so the circuit
   * does not count it, and not worth repeating, so it is not replayed. One log line per 10 s.
   */
  #refused(err: unknown): void {
    const now = performance.now();
    if (now - this.#refusalLoggedAt < 10_000) return;
    this.#refusalLoggedAt = now;
    this.#opts.log?.warn(
      { reason: err instanceof Error ? err.message : String(err) },
      'Redis refused a batch',
    );
  }

  #timed<T>(p: Promise<T>): Promise<Timed<T>> {
    return withinDeadline(p, this.#timeoutMs, maxWaitMs(this.#timeoutMs), this.#lag.lag);
  }

  #succeeded(): void {
    this.#failures = 0;
    if (this.#ops.length > 0 || this.#unmerged.size > 0) void this.#flush();
  }

  #failed(err: unknown): void {
    this.#lastError = err instanceof Error ? err.message : String(err);
    const now = performance.now();
    if (this.#failures++ === 0) {
      this.#failingSince = now;
      // one line per run of failures, not one per request of a burst
      if (!this.#open) this.#opts.log?.warn({ reason: this.#lastError }, 'Redis command failed');
    }
    const span = now - this.#failingSince;
    if (this.#failures >= this.#opts.failureThreshold && span >= (this.#opts.openAfterMs ?? 0))
      this.#trip(this.#lastError);
  }

  #trip(reason: string): void {
    if (this.#open || this.#closed) return;
    this.#open = true;
    this.#lastError = reason;
    this.#since = new Date().toISOString();
    metrics.storeHealthy.set(0);
    this.#opts.log?.warn(
      { reason, failMode: this.#opts.failMode },
      this.#opts.failMode === 'open'
        ? 'Redis unavailable: limits continue on the local limit/N share'
        : 'Redis unavailable: rejecting limited requests (fail-closed)',
    );
    this.#probe = setInterval(() => void this.#tryRecover(), this.#opts.retryIntervalMs);
    this.#probe.unref();
  }

  /** One recovery at a time: two concurrent flushes would replay the same operations twice. */
  #tryRecover(): Promise<void> {
    this.#recovering ??= this.#recover().finally(() => {
      this.#recovering = undefined;
    });
    return this.#recovering;
  }

  async #recover(): Promise<void> {
    if (!this.#open || this.#closed) return;
    const pong = await this.#timed(this.#client.ping());
    if (!pong.ok) {
      this.#lastError = String(pong.error);
      return;
    }
    // A restarted Redis has an empty script cache: load the scripts before the replay and the traffic.
    await this.#loadScripts(this.#opts.settings.connectTimeoutMs);
    // Outage usage and pending settlements reach Redis before new admissions rely on its counters.
    if (!(await this.#flush())) return;
    clearInterval(this.#probe);
    this.#probe = undefined;
    this.#open = false;
    this.#failures = 0;
    this.#since = new Date().toISOString();
    metrics.storeHealthy.set(1);
    this.#opts.log?.info({}, 'Redis reachable again: limits are shared across replicas');
  }

  #enqueue(op: ReplayOp): void {
    if (this.#ops.length >= MAX_PENDING_OPS) return;
    this.#ops.push(op);
    if (!this.#open) void this.#flush();
  }

  /** Replays queued operations in order (each is idempotent); false if Redis failed on one. */
  #flush(): Promise<boolean> {
    this.#flushing ??= this.#flushOps().then((ok) => {
      this.#flushing = undefined;
      // Operations that came in as the loop ended, or a failure while the circuit stays closed (no
      // probe runs then, and an idle replica sends no command that would flush): try again soon.
      if (!this.#open && !this.#closed && (this.#ops.length > 0 || this.#unmerged.size > 0))
        this.#flushLater(ok ? 0 : this.#opts.retryIntervalMs);
      return ok;
    });
    return this.#flushing;
  }

  #flushLater(ms: number): void {
    if (this.#flushTimer) return;
    this.#flushTimer = setTimeout(() => {
      this.#flushTimer = undefined;
      void this.#flush();
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
        this.#failed(err.error);
        return false;
      }
    }
    return true;
  }

  /** The outcome of each replayed op; settlements go out as one SETTLE_MANY per Cluster slot. */
  #replay(ops: ReplayOp[]): Array<Promise<Timed<unknown>>> {
    const out: Array<Promise<Timed<unknown>>> = [];
    const settles = new Map<string, { at: number[]; batches: SettleBatch[]; specs: string[] }>();
    ops.forEach((op, i) => {
      if (op.kind !== 'settle') {
        out[i] = this.#timed(this.#run(op));
        return;
      }
      let spec: string;
      try {
        spec = settleSpec(op.batch);
      } catch (err) {
        this.#refused(err); // a spec that cannot be written now never can: drop it
        out[i] = Promise.resolve({ ok: true, value: 0 });
        return;
      }
      const group = this.#group(
        op.batch.windows[0]?.key ?? op.batch.concurrency[0]?.key ?? op.batch.reservation,
      );
      let g = settles.get(group);
      if (!g) {
        g = { at: [], batches: [], specs: [] };
        settles.set(group, g);
      }
      g.at.push(i);
      g.batches.push(op.batch);
      g.specs.push(spec);
    });
    for (const g of settles.values()) {
      const call = this.#timed(this.#settleMany(g.batches, g.specs));
      g.at.forEach((i, j) => {
        out[i] = call.then((r) => {
          // a refused entry is done with: Redis answered, and would refuse it again
          if (r.ok && Array.isArray(r.value) && typeof r.value[j] === 'string')
            this.#refused(new RefusedBatch(r.value[j]));
          return r;
        });
      });
    }
    return out;
  }

  #run(op: Exclude<ReplayOp, { kind: 'settle' }>): Promise<unknown> {
    switch (op.kind) {
      case 'cancel': {
        const keys: string[] = [];
        pushAdmitKeys(op.batch, '', keys);
        return this.#eval(scripts.cancel, keys, [op.spec, op.granted ? '1' : '0', TOMBSTONE_MS]);
      }
      case 'merge': {
        const ttl = op.expireAt - Date.now();
        if (ttl <= 0) return Promise.resolve(0);
        return this.#eval(
          scripts.merge,
          [op.key, `${hashTag(op.key)}:mrg:${op.id}`],
          [op.delta, ttl, TOMBSTONE_MS],
        );
      }
    }
  }

  /**
   * The requests no longer wait for this call (it timed out or failed), but Redis may have run it or
   * may still run it. Whatever each batch's outcome, it is undone by id, so a request is charged only
   * where it was served: as soon as a late reply says its batch was granted, or once Redis is back
   * when no reply will come (the tombstone then also stops a copy still in flight from charging).
   */
  #abandon(batches: AdmitBatch[], specs: string[], call: Promise<unknown>): void {
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
          if (r.ok && batch) this.#enqueue({ kind: 'cancel', batch, spec: specs[i] ?? '', granted: true });
        });
      },
      () => {
        // Without a reservation record nothing tells later whether it ran: only rate slots, which a
        // bucket's refill returns, can be over-counted that way (docs/policies.md).
        batches.forEach((batch, i) => {
          if (batch.reservation)
            this.#enqueue({ kind: 'cancel', batch, spec: specs[i] ?? '', granted: false });
        });
      },
    );
  }

  #recordLocal(key: string, delta: number, expireAt?: number): void {
    if (expireAt !== undefined) this.#windowExpiry.set(key, expireAt);
    const exp = expireAt ?? this.#windowExpiry.get(key) ?? Date.now() + 3_600_000;
    const cur = this.#unmerged.get(key);
    this.#unmerged.set(key, { delta: (cur?.delta ?? 0) + delta, expireAt: exp });
  }

  async admit(batch: AdmitBatch): Promise<{ result: AdmitResult; placement: Placement }> {
    let cause: unknown;
    if (!this.#open) {
      const first = batch.rates[0]?.key ?? batch.concurrency[0]?.key ?? batch.windows[0]?.key;
      const reply = await this.#admits.add(
        batch,
        admitSpec(batch),
        this.#group(first ?? batch.reservation?.key),
      );
      if (reply instanceof CallFailed) {
        cause = reply.error;
        if (!(reply.error instanceof CircuitOpen)) this.#failed(reply.error);
      } else {
        try {
          return { result: admitResult(reply as AdmitReply), placement: 'primary' };
        } catch (err) {
          // a tombstone under a fresh id (impossible, but never charge twice for it), or a batch
          // Redis refused: nothing was charged in Redis
          cause = err;
          if (err instanceof RefusedBatch) this.#refused(err);
        }
      }
    }
    if (this.#opts.failMode === 'closed') {
      // the cause (Redis's own error) goes to the logs, never into the client's error message
      throw new GatewayError(
        'SLUICE_ERR_STORE_UNAVAILABLE',
        'the shared limit store is unavailable and this policy fails closed; retry shortly',
        {
          headers: { 'retry-after': String(Math.ceil(this.#opts.retryIntervalMs / 1000)) },
          cause: cause ?? new Error(this.#lastError ?? 'circuit open'),
        },
      );
    }
    const n = this.#opts.replicas;
    const scaled = scaleBatch(batch, n);
    const result = this.#local.admitNow(scaled);
    if (!result.ok) return { result, placement: 'fallback' };
    const now = Date.now();
    batch.windows.forEach((w, i) => {
      this.#recordLocal(w.key, w.fixed + w.perOutput * result.grant, now + w.ttlMs);
      // Report usage on the global scale so headers stay meaningful while on the local share.
      const localUsed = result.windowsUsed[i] ?? 0;
      result.windowsUsed[i] = w.limit - ((scaled.windows[i]?.limit ?? 0) - localUsed) * n;
    });
    for (const r of result.rates) r.remaining *= n;
    return { result, placement: 'fallback' };
  }

  async settle(batch: SettleBatch, placement: Placement): Promise<void> {
    if (placement === 'fallback') {
      // Corrections of outage usage join the merge, whether or not Redis is back by now.
      if (this.#local.settleNow(batch)) for (const w of batch.windows) this.#recordLocal(w.key, w.delta);
      if (!this.#open) void this.#flush();
      return;
    }
    if (!this.#open && this.#ops.length === 0) {
      let spec: string;
      try {
        spec = settleSpec(batch);
      } catch (err) {
        this.#refused(err); // a delta that is not a number: no Redis could apply it
        throw err;
      }
      const first = batch.windows[0]?.key ?? batch.concurrency[0]?.key ?? batch.reservation;
      const reply = await this.#settles.add(batch, spec, this.#group(first));
      if (!(reply instanceof CallFailed)) {
        if (typeof reply !== 'string') return;
        const err = new RefusedBatch(reply);
        this.#refused(err);
        throw err;
      }
      if (!(reply.error instanceof CircuitOpen)) this.#failed(reply.error);
      // A late success makes the replay a no-op (the reservation record is gone by then).
    }
    this.#enqueue({ kind: 'settle', batch });
  }

  async cacheGet(key: string): Promise<Buffer | undefined> {
    if (this.#open) return undefined;
    const r = await this.#timed(this.#client.getBuffer(this.#key(`cache:${key}`)));
    if (!r.ok) {
      this.#failed(r.error);
      return undefined;
    }
    this.#succeeded();
    return r.value ?? undefined;
  }

  // Records (Responses API state) go straight to Redis and throw on failure: the caller must tell
  // "not found" from "could not look" (the circuit and local fallback are for limits only).
  async recordGet(key: string): Promise<Buffer | undefined> {
    return (await this.#client.getBuffer(this.#key(`rec:${key}`))) ?? undefined;
  }

  async recordSet(key: string, value: Buffer, ttlMs: number): Promise<void> {
    await this.#client.set(this.#key(`rec:${key}`), value, 'PX', ttlMs);
  }

  async recordDelete(key: string): Promise<boolean> {
    return (await this.#client.del(this.#key(`rec:${key}`))) > 0;
  }

  async cacheSet(key: string, value: Buffer, ttlMs: number): Promise<void> {
    if (this.#open) return;
    const r = await this.#timed(this.#client.set(this.#key(`cache:${key}`), value, 'PX', ttlMs));
    if (r.ok) this.#succeeded();
    else this.#failed(r.error);
  }

  /** One admission of an empty batch: the script runs (and any NOSCRIPT is paid) before the first request. */
  async warm(): Promise<void> {
    const none: AdmitBatch = { rates: [], concurrency: [], windows: [], wantOutput: 0 };
    const spec = admitSpec(none);
    for (let i = 0; i < 10; i++) {
      if ((await this.#admitCall([none], [spec])) instanceof CallFailed) return;
    }
  }

  health(): StoreHealth {
    const mode = !this.#open ? 'shared' : this.#opts.failMode === 'open' ? 'local-fallback' : 'unavailable';
    return {
      type: 'redis',
      healthy: !this.#open,
      mode,
      since: this.#since,
      scriptsLoaded: this.#scriptsLoaded,
      pendingOps: this.#ops.length,
      ...(this.#lastError && this.#open ? { lastError: this.#lastError } : {}),
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#probe);
    clearTimeout(this.#flushTimer);
    await this.#local.close();
    this.#lag.release();
    this.#client.disconnect();
  }
}
