// Limiter operations per second through the real stores (dataplane/src/store): one "operation" is what
// a request costs the limiter — an admit of one GCRA request bucket + one token window, then the settle
// that reconciles the window with the real usage. Measured on the in-memory store and on Redis (a real
// redis-server on the client core), one at a time (latency) and 64 in flight (throughput).
// Run: `node bench/micro/limiter.ts [--redis-port N] [--quick]` prints one JSON object.
// On Redis it also reports Redis's own CPU per operation (its main thread, INFO cpu) and the share of
// it inside the scripts (INFO commandstats): what sizing Redis for a fleet of replicas goes by.
// Each admission carries a reservation record as real requests do; BENCH_NO_RESERVATION=1 leaves it
// out, to compare what the record costs (an A/B in one run, on the same machine state).
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { storeSchema } from '../../dataplane/src/config/schema.ts';
import { StoreRegistry } from '../../dataplane/src/store/registry.ts';
import type { AdmitBatch, Store } from '../../dataplane/src/store/types.ts';
import { round } from '../stats.ts';

export interface LimiterRun {
  store: 'memory' | 'redis';
  inFlight: number;
  opsPerSec: number;
  /** mean ms per admit+settle when one at a time */
  meanMs: number;
  p99Ms: number;
  denied: number;
  /** Redis: its main thread's CPU per operation (µs), commands and scripts and I/O */
  redisCpuUsPerOp?: number;
  /** Redis: of that, the time inside EVALSHA (the admission and settlement scripts) */
  scriptUsPerOp?: number;
}

interface RedisCpu {
  mainThreadUs: number;
  evalshaUs: number;
}

/** Redis's main-thread CPU and its scripts' time so far, from INFO (Redis 6.2 and later). */
async function redisCpu(client: Redis): Promise<RedisCpu> {
  const text = (await client.info('cpu')) + (await client.info('commandstats'));
  const field = (re: RegExp) => Number(re.exec(text)?.[1] ?? Number.NaN);
  return {
    mainThreadUs:
      (field(/used_cpu_user_main_thread:([\d.]+)/) + field(/used_cpu_sys_main_thread:([\d.]+)/)) * 1e6,
    evalshaUs: field(/cmdstat_evalsha:calls=\d+,usec=(\d+)/),
  };
}

const TENANTS = 100;
const WITH_RESERVATION = process.env.BENCH_NO_RESERVATION !== '1';

function batch(i: number): AdmitBatch {
  const t = i % TENANTS;
  return {
    rates: [{ key: `bench:rate:${t}`, emissionMs: 0.001, burst: 1_000_000_000 }],
    concurrency: [],
    windows: [
      {
        key: `bench:tokens:${t}`,
        limit: 1e15,
        fixed: 120,
        perOutput: 1,
        ttlMs: 60_000,
        resetMs: 60_000,
      },
    ],
    wantOutput: 256,
    // as every real request with a window carries (store/types.ts ReservationRef): its record is
    // written by the admit and removed by the settle
    ...(WITH_RESERVATION ? { reservation: { key: `bench:rsv:${i}`, ttlMs: 60_000 } } : {}),
  };
}

async function one(store: Store, i: number): Promise<boolean> {
  const { result, placement } = await store.admit(batch(i));
  if (!result.ok) return false;
  // the answer used 20 of the 256 reserved output tokens: give the rest back
  await store.settle(
    {
      windows: [{ key: `bench:tokens:${i % TENANTS}`, delta: 20 - result.grant }],
      concurrency: [],
      ...(WITH_RESERVATION ? { reservation: `bench:rsv:${i}` } : {}),
    },
    placement,
  );
  return true;
}

async function measure(store: Store, inFlight: number, seconds: number, redis?: Redis): Promise<LimiterRun> {
  const before = redis ? await redisCpu(redis) : undefined;
  const lat: number[] = [];
  let ops = 0;
  let denied = 0;
  const end = performance.now() + seconds * 1000;
  const worker = async (w: number) => {
    let i = w;
    while (performance.now() < end) {
      const t = performance.now();
      if (!(await one(store, i))) denied++;
      lat.push(performance.now() - t);
      ops++;
      i += inFlight;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: inFlight }, (_, w) => worker(w)));
  const elapsed = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const after = redis ? await redisCpu(redis) : undefined;
  const perOp = (a: number | undefined, b: number | undefined) =>
    a !== undefined && b !== undefined && Number.isFinite(a - b)
      ? round((a - b) / Math.max(1, ops), 2)
      : undefined;
  const cpu = perOp(after?.mainThreadUs, before?.mainThreadUs);
  const script = perOp(after?.evalshaUs, before?.evalshaUs);
  return {
    ...(cpu !== undefined ? { redisCpuUsPerOp: cpu } : {}),
    ...(script !== undefined ? { scriptUsPerOp: script } : {}),
    store: store.type,
    inFlight,
    opsPerSec: round(ops / elapsed, 0),
    meanMs: round(lat.reduce((s, x) => s + x, 0) / Math.max(1, lat.length), 4),
    p99Ms: round(lat[Math.floor(lat.length * 0.99)] ?? 0, 4),
    denied,
  };
}

export async function runLimiter(redisPort: number | undefined, quick: boolean): Promise<LimiterRun[]> {
  const seconds = quick ? 0.5 : 3;
  const registry = new StoreRegistry();
  const out: LimiterRun[] = [];
  const configs = [storeSchema.parse({ type: 'memory' })];
  if (redisPort)
    configs.push(
      storeSchema.parse({
        type: 'redis',
        redis: { url: `redis://127.0.0.1:${redisPort}`, keyPrefix: 'sluice-bench:' },
      }),
    );
  for (const cfg of configs) {
    const lease = await registry.acquire(cfg, undefined);
    // a second connection to read Redis's own counters (not the store's, whose calls are measured)
    const probe =
      cfg.type === 'redis' ? new Redis({ host: '127.0.0.1', port: redisPort, lazyConnect: true }) : undefined;
    try {
      if (lease.store.health().healthy === false)
        throw new Error(`${cfg.type} store is not healthy: ${lease.store.health().lastError}`);
      await measure(lease.store, 8, seconds / 3); // warm-up (JIT, Lua script load)
      for (const inFlight of [1, 64]) out.push(await measure(lease.store, inFlight, seconds, probe));
    } finally {
      probe?.disconnect();
      await lease.release();
    }
  }
  return out;
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: { 'redis-port': { type: 'string' }, quick: { type: 'boolean', default: false } },
  });
  const port = values['redis-port'] ? Number(values['redis-port']) : undefined;
  process.stdout.write(`${JSON.stringify(await runLimiter(port, values.quick === true))}\n`);
  process.exit(0);
}
