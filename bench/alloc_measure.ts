// The allocation measurement behind bench/alloc.ts and the allocation phase of `npm run bench`: the
// rows (one feature added at a time), starting Sluice with bench/alloc_probe.ts preloaded, counting a
// fixed number of requests and dividing the bytes V8 allocated meanwhile, and the table for the docs.
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { runCounted } from './load/counted.ts';
import { rssSampler } from './procs.ts';
import { REPO, type SluiceFeatures, sluiceTarget } from './targets.ts';
import { verifyTarget } from './verify.ts';

export interface AllocConfig {
  name: string;
  /** what this row adds to its base row */
  adds: string;
  base?: string;
  stream: boolean;
  features: SluiceFeatures;
  accessLog: boolean;
  metrics: boolean;
}

const row = (
  name: string,
  adds: string,
  base: string | undefined,
  stream: boolean,
  features: SluiceFeatures,
  accessLog = true,
  metrics = true,
): AllocConfig => ({ name, adds, base, stream, features, accessLog, metrics });

/** Each mode: bare, then one feature at a time up to the shipped defaults and the full policy stack. */
export const ALLOC_CONFIGS: AllocConfig[] = [false, true].flatMap((stream) => {
  const m = stream ? 'stream' : 'non-stream';
  return [
    row(
      `${m} bare`,
      'proxying only: no access log, metrics no-op, open access',
      undefined,
      stream,
      {},
      false,
      false,
    ),
    row(`${m} +access log`, 'the info access line per request', `${m} bare`, stream, {}, true, false),
    row(`${m} +metrics (shipped defaults)`, 'the request metrics', `${m} +access log`, stream, {}),
    row(`${m} +API-key tenant`, 'an API-key namespace', `${m} +metrics (shipped defaults)`, stream, {
      tenant: true,
    }),
    row(`${m} +Redis limits`, 'request + token limits on Redis', `${m} +API-key tenant`, stream, {
      redisLimits: true,
    }),
    row(`${m} +tracing`, 'tracing, 10% sampled', `${m} +metrics (shipped defaults)`, stream, {
      tracing: true,
    }),
  ];
});

export interface AllocResult {
  name: string;
  adds: string;
  base?: string;
  stream: boolean;
  requests: number;
  /** bytes allocated on the JS heap per request */
  bytesPerReq: number;
  /** bytes moved from the young to the old generation per request (what mark-compacts collect) */
  promotedPerReq: number;
  scavengesPer1kReq: number;
  markCompacts: number;
  /** main-thread GC pause time per 1,000 requests (depends on the CPU the gateway got, unlike the rest) */
  gcMsPer1kReq: number;
  /** peak RSS of the gateway while counting */
  rssPeakMiB: number;
  /** bytes allocated per second while idle (timers, the probe's own reads): already small */
  idleBytesPerSec: number;
  error?: string;
}

interface ProbeCounters {
  allocated: number;
  promoted: number;
  scavenges: number;
  markCompacts: number;
  gcMs: number;
}

/**
 * The mock's pause between stream chunks here: with chunks back to back, how many a gateway reads at
 * once (and so how many reads, writes and their buffers a stream costs) follows the machine's load
 * (+-15% per stream between runs on a busy machine, even 1 ms apart); paced like a generating model,
 * every chunk is its own read unless the gateway stalls longer than the gap.
 */
export const CHUNK_GAP_MS = 10;

export interface AllocRun {
  /** a mock upstream started with CHUNK_GAP_MS between stream chunks */
  mockPort: number;
  redisPort: number | undefined;
  otlpUrl: string | undefined;
  tmpDir: string;
  count: number;
  warmup: number;
  /** a compiled tree to run instead of dist/ (the A/B of a change: `--dist dirA --dist dirB`) */
  distDir?: string;
  /** Node flags after the shipped ones (V8 takes a flag's last value): `--flags=...` variants */
  extraFlags?: string[];
  inFlight?: number;
}

/**
 * Requests in flight while counting: few for whole answers, as at the issue's fixed 1,000 req/s; for
 * streams, paced CHUNK_GAP_MS apart, enough to keep the gateway as busy (a stream mostly waits).
 */
export const IN_FLIGHT = 8;
export const STREAM_IN_FLIGHT = 64;
/** V8 reaches its steady state (optimised code, settled inline caches) only after a few thousand requests. */
export const WARMUP_REQUESTS = 5000;
export const WARMUP_STREAMS = 1000;

/** The gateway's compiled series module, whose updates the probe turns into no-ops for "no metrics". */
const seriesJs = (dist: string) => join(dist, 'dataplane/src/observability/series.js');

export async function startProbed(cfg: AllocConfig, run: AllocRun) {
  const portFile = join(run.tmpDir, `alloc-probe-${process.pid}.port`);
  rmSync(portFile, { force: true });
  const env: Record<string, string> = { BENCH_ALLOC_PROBE_FILE: portFile };
  if (!cfg.accessLog) env.SLUICE_LOG_LEVEL = 'warn';
  if (!cfg.metrics) env.BENCH_ALLOC_NO_METRICS = seriesJs(run.distDir ?? join(REPO, 'dist'));
  // the pid: its config and log files stay apart from another allocation run's on the machine
  const spec = sluiceTarget(`alloc-${process.pid}-${cfg.stream ? 's' : 'ns'}`, cfg.adds, cfg.features);
  const t = await spec.start({
    mockPort: run.mockPort,
    tmpDir: run.tmpDir,
    redisPort: run.redisPort,
    otlpUrl: run.otlpUrl,
    useDist: true,
    distDir: run.distDir,
    env,
    sluiceExtraFlags: [...(run.extraFlags ?? []), '--import', join(import.meta.dirname, 'alloc_probe.ts')],
  });
  let port = 0;
  for (let i = 0; i < 100 && !port; i++) {
    try {
      port = Number(readFileSync(portFile, 'utf8'));
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  if (!port) {
    await t.stop();
    throw new Error('the allocation probe did not start');
  }
  const probe = (method: string, path: string) =>
    fetch(`http://127.0.0.1:${port}${path}`, { method }).then(async (r) => {
      if (!r.ok) throw new Error(`probe ${path}: ${r.status} ${await r.text()}`);
      return r.json();
    });
  return { t, probe };
}

/** A row with nothing measured yet (or nothing measurable: then `error` says why). */
function emptyRow(cfg: AllocConfig): AllocResult {
  return {
    name: cfg.name,
    adds: cfg.adds,
    base: cfg.base,
    stream: cfg.stream,
    requests: 0,
    bytesPerReq: Number.NaN,
    promotedPerReq: Number.NaN,
    scavengesPer1kReq: Number.NaN,
    markCompacts: 0,
    gcMsPer1kReq: Number.NaN,
    rssPeakMiB: Number.NaN,
    idleBytesPerSec: Number.NaN,
  };
}

export async function measureAlloc(cfg: AllocConfig, run: AllocRun): Promise<AllocResult> {
  const out = emptyRow(cfg);
  if (cfg.features.redisLimits && !run.redisPort) return { ...out, error: 'needs Redis' };
  if (cfg.features.tracing && !run.otlpUrl) return { ...out, error: 'needs the OTLP sink' };
  const { t, probe } = await startProbed(cfg, run);
  try {
    const problems = await verifyTarget(t.endpoint, 1);
    if (problems.length) return { ...out, error: problems.join('; ') };
    const load = {
      url: t.endpoint.url,
      headers: t.endpoint.headers,
      stream: cfg.stream,
      inFlight: run.inFlight ?? (cfg.stream ? STREAM_IN_FLIGHT : IN_FLIGHT),
    };
    await runCounted({ ...load, count: cfg.stream ? Math.min(run.warmup, WARMUP_STREAMS) : run.warmup });
    const i0 = (await probe('GET', '/alloc')) as ProbeCounters;
    await new Promise((r) => setTimeout(r, 1000));
    const a = (await probe('GET', '/alloc')) as ProbeCounters;
    const rss = rssSampler(t.pid as number);
    const r = await runCounted({ ...load, count: run.count });
    const rssPeakMiB = rss.stop();
    const b = (await probe('GET', '/alloc')) as ProbeCounters;
    if (r.invalid || r.errors) return { ...out, error: `${r.invalid} invalid, ${r.errors} failed responses` };
    return {
      ...out,
      requests: r.valid,
      bytesPerReq: (b.allocated - a.allocated) / r.valid,
      promotedPerReq: (b.promoted - a.promoted) / r.valid,
      scavengesPer1kReq: ((b.scavenges - a.scavenges) * 1000) / r.valid,
      markCompacts: b.markCompacts - a.markCompacts,
      gcMsPer1kReq: ((b.gcMs - a.gcMs) * 1000) / r.valid,
      rssPeakMiB,
      idleBytesPerSec: a.allocated - i0.allocated,
    };
  } finally {
    await t.stop();
  }
}

export function renderAlloc(rows: AllocResult[]): string {
  const kib = (x: number) => (Number.isFinite(x) ? (x / 1024).toFixed(1) : 'n/a');
  const lines = [
    '| configuration | adds | KiB allocated / request | vs base | KiB promoted / request | scavenges / 1k requests | mark-compacts |',
    '|---|---|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    const base = rows.find((x) => x.name === r.base);
    const delta = base ? r.bytesPerReq - base.bytesPerReq : Number.NaN;
    lines.push(
      r.error
        ? `| ${r.name} | ${r.adds} | **${r.error.replace(/\|/g, '\\|').slice(0, 200)}** | | | | |`
        : `| ${r.name} | ${r.adds} | ${kib(r.bytesPerReq)} | ${base ? `${delta >= 0 ? '+' : ''}${kib(delta)}` : '—'} | ${kib(r.promotedPerReq)} | ${r.scavengesPer1kReq.toFixed(1)} | ${r.markCompacts} |`,
    );
  }
  return lines.join('\n');
}

/** The allocation phase of `npm run bench`: every row against an already running mock (and Redis). */
export async function runAllocTable(
  run: AllocRun,
  log: (m: string) => void,
  only?: string[],
): Promise<AllocResult[]> {
  const rows: AllocResult[] = [];
  for (const cfg of ALLOC_CONFIGS.filter((c) => !only || only.includes(c.name))) {
    log(`alloc: ${cfg.name}`);
    rows.push(await measureAlloc(cfg, run).catch((err) => ({ ...emptyRow(cfg), error: String(err) })));
  }
  return rows;
}
