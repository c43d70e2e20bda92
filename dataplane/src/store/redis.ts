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
//     replayed in order once Redis answers again (store/redis_replay.ts);
//   - the admissions and the settlements of one event-loop turn go to Redis as one script call
//     (store/redis_coalesce.ts), which runs each request's batch in turn: exactly what the same calls
//     sent one by one would do, at one command, one deadline and one reply for the whole turn.
import { Cluster, Redis } from 'ioredis';
import { GatewayError } from '../errors.ts';
import { metrics } from '../observability/metrics.ts';
import { acquireLoopLag, type LoopLag, rejectAfter, type Timed, withinDeadline } from './deadline.ts';
import {
  type AdmitReply,
  admitResult,
  admitSpec,
  lateReplyMs,
  maxWaitMs,
  parseAdmitReplies,
  RefusedBatch,
  settleSpec,
} from './redis_admission.ts';
import { BoundedRecords } from './redis_bounded.ts';
import { ScriptCalls } from './redis_calls.ts';
import { CallFailed, entryOf, TurnCoalescer } from './redis_coalesce.ts';
import { parseRedisUrl, type RedisSettings } from './redis_connect.ts';
import { LocalShare, scaleBatch } from './redis_local_share.ts';
import { ReplayQueue } from './redis_replay.ts';
import { TenantRecords } from './redis_tenant_records.ts';

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
  /** when a command's reply counts as lost for good (default lateReplyMs(commandTimeoutMs)) */
  lateReplyMs?: number;
  log?: StoreLogger;
}

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
  readonly #local: LocalShare;
  readonly #lag: { lag: LoopLag; release(): void };
  readonly #timeoutMs: number;
  readonly #lateReplyMs: number;
  readonly #calls: ScriptCalls;
  readonly #replay: ReplayQueue;
  // the L2 cache (through the circuit) and the Responses API's records, each tenant's bounded in
  // bytes, read and deleted several at once within its slot (redis_tenant_records.ts)
  readonly cacheGet: TenantRecords['cacheGet'];
  readonly cacheSet: TenantRecords['cacheSet'];
  readonly recordGet: TenantRecords['recordGet'];
  readonly recordGetWithin: TenantRecords['recordGetWithin'];
  readonly recordSet: TenantRecords['recordSet'];
  readonly recordDelete: TenantRecords['recordDelete'];
  #failures = 0;
  #failingSince = 0;
  #open = false;
  #scriptsLoaded = false;
  #since = new Date().toISOString();
  #lastError: string | undefined;
  #recovering: Promise<void> | undefined;
  #probe: NodeJS.Timeout | undefined;
  #closed = false;
  #refusalLoggedAt = -Infinity;
  /** one SETTLE_MANY call per event-loop turn (per Cluster slot) */
  readonly #settles = new TurnCoalescer<SettleBatch>((batches, specs) => this.#settleCall(batches, specs));
  /**
   * one ADMIT_MANY call per event-loop turn (per Cluster slot), sent after the turn's settlements, so
   * what they give back is there for the admissions, as when each was sent when it was made
   */
  readonly #admits = new TurnCoalescer<AdmitBatch>(
    (batches, specs) => this.#admitCall(batches, specs),
    () => this.#settles.flush(),
  );

  constructor(opts: RedisStoreOptions) {
    this.#opts = opts;
    this.#timeoutMs = opts.settings.commandTimeoutMs;
    this.#lateReplyMs = opts.lateReplyMs ?? lateReplyMs(this.#timeoutMs);
    this.#lag = acquireLoopLag();
    // Whether a request waits is decided by withinDeadline, which keeps the command's late reply; what
    // still waits on that reply (an abandoned call, a record) gives up after #lateReplyMs.
    const target = parseRedisUrl(opts.settings);
    this.#client =
      target.kind === 'cluster' ? new Cluster(target.nodes, target.options) : new Redis(target.options);
    this.#calls = new ScriptCalls(this.#client, opts.keyPrefix);
    const records = new TenantRecords(new BoundedRecords(this.#client, opts.keyPrefix, this.#lateReplyMs), {
      isOpen: () => this.#open,
      timed: (p) => this.#timed(p),
      succeeded: () => this.#succeeded(),
      failed: (err) => this.#failed(err),
    });
    ({ cacheGet: this.cacheGet, cacheSet: this.cacheSet } = records);
    ({ recordGet: this.recordGet } = records);
    this.recordGetWithin = records.recordGetWithin;
    ({ recordSet: this.recordSet, recordDelete: this.recordDelete } = records);
    // #replay first: the local share records its usage there
    this.#replay = new ReplayQueue({
      calls: this.#calls,
      retryIntervalMs: opts.retryIntervalMs,
      timed: (p) => this.#timed(p),
      failed: (err) => this.#failed(err),
      refused: (err) => this.#refused(err),
      isOpen: () => this.#open,
      isClosed: () => this.#closed,
    });
    this.#local = new LocalShare(opts.replicas, this.#replay);
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
    const r = await withinDeadline(this.#calls.load(), timeoutMs, timeoutMs, this.#lag.lag);
    // once loaded, a later failed reload (a restarted Redis) costs one EVAL by source, not readiness
    if (r.ok) this.#scriptsLoaded = true;
    else this.#lastError = String(r.error);
  }

  #key(k: string): string {
    return this.#opts.keyPrefix + k;
  }

  /**
   * One ADMIT_MANY call for a turn's admissions, under ONE deadline. When the call fails or times
   * out, every batch in it is abandoned (ReplayQueue.abandon) and each caller gets the shared CallFailed.
   */
  async #admitCall(batches: AdmitBatch[], specs: string[]): Promise<unknown[] | CallFailed> {
    if (this.#open) return new CallFailed(new CircuitOpen(), Promise.resolve());
    const call = this.#calls.admitMany(batches, specs);
    const r = await this.#timed(call);
    if (r.ok) {
      this.#succeeded();
      return parseAdmitReplies(r.value, batches.length);
    }
    // the replay reconciles the late reply, or cancels by id once no reply will come
    const late = rejectAfter(call, this.#lateReplyMs);
    this.#replay.abandon(batches, specs, late);
    return new CallFailed(r.error, late);
  }

  async #settleCall(batches: SettleBatch[], specs: string[]): Promise<unknown[] | CallFailed> {
    if (this.#open) return new CallFailed(new CircuitOpen(), Promise.resolve());
    const call = this.#calls.settleMany(batches, specs);
    const r = await this.#timed(call);
    if (!r.ok) return new CallFailed(r.error, call);
    this.#succeeded();
    return r.value;
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
    if (this.#replay.hasWork) void this.#replay.flush();
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
    if (!(await this.#replay.flush())) return;
    clearInterval(this.#probe);
    this.#probe = undefined;
    this.#open = false;
    this.#failures = 0;
    this.#since = new Date().toISOString();
    metrics.storeHealthy.set(1);
    this.#opts.log?.info({}, 'Redis reachable again: limits are shared across replicas');
  }

  async admit(batch: AdmitBatch): Promise<{ result: AdmitResult; placement: Placement }> {
    let cause: unknown;
    if (!this.#open) {
      const first = batch.rates[0]?.key ?? batch.concurrency[0]?.key ?? batch.windows[0]?.key;
      let reply: unknown;
      try {
        const spec = admitSpec(batch);
        const call = this.#admits.add(batch, spec, this.#calls.group(first ?? batch.reservation?.key));
        const at = call.items.length - 1;
        reply = entryOf(await call.reply, at);
      } catch (err) {
        // a number no script could use (NaN): refused here, as Redis would refuse it
        reply = { ok: false, kind: 'error', error: String(err) } satisfies AdmitReply;
      }
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
    return { result: this.#local.admit(batch), placement: 'fallback' };
  }

  async settle(batch: SettleBatch, placement: Placement): Promise<void> {
    if (placement === 'fallback') {
      this.#local.settle(batch);
      if (!this.#open) void this.#replay.flush();
      return;
    }
    if (!this.#open && this.#replay.pending === 0) {
      let spec: string;
      try {
        spec = settleSpec(batch);
      } catch (err) {
        this.#refused(err); // a delta that is not a number: no Redis could apply it
        throw err;
      }
      const first = batch.windows[0]?.key ?? batch.concurrency[0]?.key ?? batch.reservation;
      const call = this.#settles.add(batch, spec, this.#calls.group(first));
      const at = call.items.length - 1;
      const reply = entryOf(await call.reply, at);
      if (!(reply instanceof CallFailed)) {
        if (typeof reply !== 'string') return;
        const err = new RefusedBatch(reply);
        this.#refused(err);
        throw err;
      }
      if (!(reply.error instanceof CircuitOpen)) this.#failed(reply.error);
      // A late success makes the replay a no-op (the reservation record is gone by then).
    }
    this.#replay.enqueue({ kind: 'settle', batch });
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
      pendingOps: this.#replay.pending,
      ...(this.#lastError && this.#open ? { lastError: this.#lastError } : {}),
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#probe);
    this.#replay.close();
    await this.#local.close();
    this.#lag.release();
    this.#client.disconnect();
  }
}
