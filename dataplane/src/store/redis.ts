// The Redis store: every replica runs the same Lua scripts against one Redis, so limits are shared
// exactly. Redis being slow or gone must never hang or fail a request by surprise:
//   - commands time out after commandTimeoutMs and never queue while disconnected;
//   - `failureThreshold` consecutive failures open a circuit; while open, no request waits on Redis;
//   - fail-open: requests are admitted by a local MemoryStore holding limit/N of every limit
//     (N = store.redis.replicas); fail-closed: they get 503 SLUICE_ERR_STORE_UNAVAILABLE;
//   - a probe pings Redis every retryIntervalMs; on success the circuit closes, the usage counted
//     locally during the outage is merged into Redis and settlements that failed are replayed.
import { Cluster, Redis } from 'ioredis';
import { GatewayError } from '../errors.ts';
import { metrics } from '../observability/metrics.ts';
import { MemoryStore } from './memory.ts';
import { parseRedisUrl, type RedisSettings } from './redis_connect.ts';
import { type LuaScript, scripts } from './redis_scripts.ts';
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
  retryIntervalMs: number;
  log?: StoreLogger;
}

/** Settlements that could not reach Redis, replayed on recovery (bounded: beyond it, leases expire). */
const MAX_PENDING_SETTLES = 10_000;

/** The local share of a limit while Redis is away: each of N replicas takes limit/N. */
export function scaleBatch(batch: AdmitBatch, replicas: number): AdmitBatch {
  if (replicas <= 1) return batch;
  return {
    wantOutput: batch.wantOutput,
    rates: batch.rates.map((r) => ({
      ...r,
      emissionMs: r.emissionMs * replicas,
      burst: Math.max(1, Math.floor(r.burst / replicas)),
    })),
    concurrency: batch.concurrency.map((c) => ({ ...c, max: Math.max(1, Math.floor(c.max / replicas)) })),
    windows: batch.windows.map((w) => ({ ...w, limit: w.limit / replicas })),
  };
}

function parseAdmitReply(raw: unknown): AdmitResult {
  const r = JSON.parse(String(raw)) as {
    ok: boolean;
    kind?: 'rate' | 'concurrency' | 'window';
    index?: number;
    retry?: number;
    grant?: number;
    rates?: unknown;
    /** a number on denial (units used in the denying window), a list on success */
    used?: unknown;
  };
  if (!r.ok) {
    return {
      ok: false,
      kind: r.kind ?? 'rate',
      index: r.index ?? 0,
      retryAfterMs: r.retry ?? 1_000,
      ...(typeof r.used === 'number' ? { used: r.used } : {}),
    };
  }
  // cjson encodes an empty Lua table as {} rather than [].
  const rates = Array.isArray(r.rates) ? (r.rates as Array<[number, number]>) : [];
  return {
    ok: true,
    grant: r.grant ?? 0,
    rates: rates.map(([remaining, resetMs]) => ({ remaining, resetMs })),
    windowsUsed: Array.isArray(r.used) ? (r.used as number[]) : [],
  };
}

export class RedisStore implements Store {
  readonly type = 'redis' as const;
  readonly #opts: RedisStoreOptions;
  readonly #client: Redis | Cluster;
  readonly #local = new MemoryStore();
  /** window key -> usage admitted locally while Redis was away, merged back on recovery */
  readonly #unmerged = new Map<string, { delta: number; expireAt: number }>();
  readonly #windowExpiry = new Map<string, number>();
  #pending: SettleBatch[] = [];
  #failures = 0;
  #open = false;
  #since = new Date().toISOString();
  #lastError: string | undefined;
  #recovering: Promise<void> | undefined;
  #probe: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(opts: RedisStoreOptions) {
    this.#opts = opts;
    const target = parseRedisUrl(opts.settings);
    this.#client =
      target.kind === 'cluster' ? new Cluster(target.nodes, target.options) : new Redis(target.options);
    // ioredis reports connection errors as events; the circuit decides what they mean.
    this.#client.on('error', (err: Error) => {
      this.#lastError = err.message;
    });
    this.#client.on('close', () => {
      if (!this.#closed) this.#trip('connection closed');
    });
    // A connection lost while starting (a Cluster still forming, Redis starting after us) trips the
    // circuit; once ioredis is connected again, close it now rather than at the next probe.
    this.#client.on('ready', () => void this.#tryRecover());
  }

  /** Wait (bounded) for the first connection; a Redis that is down at start means starting on the fallback. */
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
    else if (this.#open) await this.#tryRecover();
    return ok;
  }

  #key(k: string): string {
    return this.#opts.keyPrefix + k;
  }

  async #eval(s: LuaScript, keys: string[], args: Array<string | number>): Promise<unknown> {
    const full = keys.map((k) => this.#key(k));
    try {
      return await this.#client.evalsha(s.sha, full.length, ...full, ...args);
    } catch (err) {
      // A restarted Redis has an empty script cache: load the script by sending its source once.
      if (err instanceof Error && err.message.startsWith('NOSCRIPT'))
        return this.#client.eval(s.source, full.length, ...full, ...args);
      throw err;
    }
  }

  #succeeded(): void {
    this.#failures = 0;
  }

  #failed(err: unknown): void {
    this.#lastError = err instanceof Error ? err.message : String(err);
    this.#failures++;
    // at most failureThreshold lines before the circuit opens and commands stop
    if (!this.#open) this.#opts.log?.warn({ reason: this.#lastError }, 'Redis command failed');
    if (this.#failures >= this.#opts.failureThreshold) this.#trip(this.#lastError);
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

  /** One recovery at a time: two concurrent flushes would merge the same outage usage twice. */
  #tryRecover(): Promise<void> {
    this.#recovering ??= this.#recover().finally(() => {
      this.#recovering = undefined;
    });
    return this.#recovering;
  }

  async #recover(): Promise<void> {
    if (!this.#open || this.#closed) return;
    try {
      await this.#client.ping();
      await this.#flushLocalUsage();
    } catch (err) {
      this.#lastError = err instanceof Error ? err.message : String(err);
      return;
    }
    clearInterval(this.#probe);
    this.#probe = undefined;
    this.#open = false;
    this.#failures = 0;
    this.#since = new Date().toISOString();
    metrics.storeHealthy.set(1);
    this.#opts.log?.info({}, 'Redis reachable again: limits are shared across replicas');
  }

  /** Merge outage usage and replay failed settlements; throws (leaving the rest queued) if Redis fails. */
  async #flushLocalUsage(): Promise<void> {
    const now = Date.now();
    for (const [key, u] of this.#unmerged) {
      const ttl = u.expireAt - now;
      if (ttl > 0 && u.delta !== 0) await this.#eval(scripts.merge, [key], [String(u.delta), ttl]);
      this.#unmerged.delete(key);
    }
    while (this.#pending.length > 0) {
      const batch = this.#pending[0] as SettleBatch;
      await this.#settleRemote(batch);
      this.#pending.shift();
    }
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
      const keys = [
        ...batch.rates.map((r) => r.key),
        ...batch.concurrency.map((c) => c.key),
        ...batch.windows.map((w) => w.key),
      ];
      const spec = JSON.stringify({
        r: batch.rates.map((r) => [r.emissionMs, r.burst]),
        c: batch.concurrency.map((c) => [c.max, c.id, c.leaseMs]),
        w: batch.windows.map((w) => [w.limit, w.fixed, w.perOutput, w.ttlMs, w.resetMs]),
        o: batch.wantOutput,
      });
      try {
        const result = parseAdmitReply(await this.#eval(scripts.admit, keys, [spec]));
        this.#succeeded();
        return { result, placement: 'primary' };
      } catch (err) {
        this.#failed(err);
        cause = err;
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

  async #settleRemote(batch: SettleBatch): Promise<void> {
    const keys = [...batch.windows.map((w) => w.key), ...batch.concurrency.map((c) => c.key)];
    const spec = JSON.stringify({
      w: batch.windows.map((w) => w.delta),
      c: batch.concurrency.map((c) => c.id),
    });
    await this.#eval(scripts.settle, keys, [spec]);
  }

  async settle(batch: SettleBatch, placement: Placement): Promise<void> {
    if (placement === 'fallback') {
      this.#local.settleNow(batch);
      for (const w of batch.windows) this.#recordLocal(w.key, w.delta);
      return;
    }
    if (!this.#open) {
      try {
        await this.#settleRemote(batch);
        this.#succeeded();
        return;
      } catch (err) {
        this.#failed(err);
      }
    }
    if (this.#pending.length < MAX_PENDING_SETTLES) this.#pending.push(batch);
  }

  async cacheGet(key: string): Promise<Buffer | undefined> {
    if (this.#open) return undefined;
    try {
      const v = await this.#client.getBuffer(this.#key(`cache:${key}`));
      this.#succeeded();
      return v ?? undefined;
    } catch (err) {
      this.#failed(err);
      return undefined;
    }
  }

  async cacheSet(key: string, value: Buffer, ttlMs: number): Promise<void> {
    if (this.#open) return;
    try {
      await this.#client.set(this.#key(`cache:${key}`), value, 'PX', ttlMs);
      this.#succeeded();
    } catch (err) {
      this.#failed(err);
    }
  }

  health(): StoreHealth {
    const mode = !this.#open ? 'shared' : this.#opts.failMode === 'open' ? 'local-fallback' : 'unavailable';
    return {
      type: 'redis',
      healthy: !this.#open,
      mode,
      since: this.#since,
      ...(this.#lastError && this.#open ? { lastError: this.#lastError } : {}),
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#probe);
    await this.#local.close();
    this.#client.disconnect();
  }
}
