// Bytes the gateway allocates per request, feature by feature: `node bench/alloc.ts [--quick]
// [--only name,...] [--profile name [--top 30]]` (also a phase of `npm run bench`).
// Each row starts Sluice's dist/ with the shipped Node flags plus bench/alloc_probe.ts (an exact
// running total of the bytes V8 allocated, from the GC's own before/after counts), warms it up, then
// sends a fixed number of requests and divides. The rows add one feature at a time, so the difference
// to the row named in `base` is what that feature allocates. Allocation, unlike latency, hardly depends
// on how busy the machine is: it is the number to compare across runs on a shared machine. --profile
// runs one row under V8's sampling heap profiler (freed objects included) and prints the largest
// allocators by function and by file.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type HeapNode, summarizeHeapProfile } from './heap_profile.ts';
import { runCounted } from './load/counted.ts';
import {
  CLIENT_CORE,
  freePort,
  loadAverage,
  pinSelf,
  type Started,
  startPinned,
  waitForPort,
} from './procs.ts';
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
  /** bytes allocated per second while idle (timers, the probe's own reads): already small */
  idleBytesPerSec: number;
  error?: string;
}

interface ProbeCounters {
  allocated: number;
  promoted: number;
  scavenges: number;
  markCompacts: number;
}

/**
 * The mock's pause between stream chunks here: with chunks back to back, how many a gateway reads at
 * once (and so how many reads, writes and their buffers a stream costs) follows the machine's load;
 * paced like a generating model, every chunk is its own read, so the count follows the code.
 */
export const CHUNK_GAP_MS = 1;

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
}

/**
 * Requests in flight while counting: few, as at the issue's fixed 1,000 req/s (a handful in flight), so
 * the gateway keeps up with the paced chunks and reads each on its own.
 */
const IN_FLIGHT = 8;

/** The gateway's compiled series module, whose updates the probe turns into no-ops for "no metrics". */
const seriesJs = (dist: string) => join(dist, 'dataplane/src/observability/series.js');

async function startProbed(cfg: AllocConfig, run: AllocRun) {
  const portFile = join(run.tmpDir, `alloc-probe-${process.pid}.port`);
  rmSync(portFile, { force: true });
  const env: Record<string, string> = { BENCH_ALLOC_PROBE_FILE: portFile };
  if (!cfg.accessLog) env.SLUICE_LOG_LEVEL = 'warn';
  if (!cfg.metrics) env.BENCH_ALLOC_NO_METRICS = seriesJs(run.distDir ?? join(REPO, 'dist'));
  const spec = sluiceTarget(`alloc-${cfg.stream ? 's' : 'ns'}`, cfg.adds, cfg.features);
  const t = await spec.start({
    mockPort: run.mockPort,
    tmpDir: run.tmpDir,
    redisPort: run.redisPort,
    otlpUrl: run.otlpUrl,
    useDist: true,
    distDir: run.distDir,
    env,
    sluiceExtraFlags: ['--import', join(import.meta.dirname, 'alloc_probe.ts')],
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

export async function measureAlloc(cfg: AllocConfig, run: AllocRun): Promise<AllocResult> {
  const out: AllocResult = {
    name: cfg.name,
    adds: cfg.adds,
    base: cfg.base,
    stream: cfg.stream,
    requests: 0,
    bytesPerReq: Number.NaN,
    promotedPerReq: Number.NaN,
    scavengesPer1kReq: Number.NaN,
    markCompacts: 0,
    idleBytesPerSec: Number.NaN,
  };
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
      inFlight: IN_FLIGHT,
    };
    await runCounted({ ...load, count: run.warmup });
    const i0 = (await probe('GET', '/alloc')) as ProbeCounters;
    await new Promise((r) => setTimeout(r, 1000));
    const a = (await probe('GET', '/alloc')) as ProbeCounters;
    const r = await runCounted({ ...load, count: run.count });
    const b = (await probe('GET', '/alloc')) as ProbeCounters;
    if (r.invalid || r.errors) return { ...out, error: `${r.invalid} invalid, ${r.errors} failed responses` };
    return {
      ...out,
      requests: r.valid,
      bytesPerReq: (b.allocated - a.allocated) / r.valid,
      promotedPerReq: (b.promoted - a.promoted) / r.valid,
      scavengesPer1kReq: ((b.scavenges - a.scavenges) * 1000) / r.valid,
      markCompacts: b.markCompacts - a.markCompacts,
      idleBytesPerSec: a.allocated - i0.allocated,
    };
  } finally {
    await t.stop();
  }
}

async function profileRow(cfg: AllocConfig, run: AllocRun, top: number): Promise<void> {
  const { t, probe } = await startProbed(cfg, run);
  try {
    const load = {
      url: t.endpoint.url,
      headers: t.endpoint.headers,
      stream: cfg.stream,
      inFlight: IN_FLIGHT,
    };
    await runCounted({ ...load, count: run.warmup });
    await probe('POST', '/heap-prof/start?interval=1024');
    const r = await runCounted({ ...load, count: run.count });
    const profile = (await probe('POST', '/heap-prof/stop')) as { head: HeapNode };
    const dir = join(run.tmpDir, 'profiles');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${cfg.name.replace(/\W+/g, '-')}.heapprofile`);
    writeFileSync(file, JSON.stringify(profile));
    const s = summarizeHeapProfile(profile.head);
    const kb = (x: number) => (x / r.valid / 1024).toFixed(2).padStart(7);
    process.stdout.write(
      `${cfg.name}: ${r.valid} requests, sampled ${kb(s.total)} KiB/request (${file})\n\nBy file (KiB/request):\n`,
    );
    for (const [k, v] of s.byFile.slice(0, top)) process.stdout.write(`${kb(v)}  ${k}\n`);
    process.stdout.write('\nBy function (KiB/request):\n');
    for (const [k, v] of s.byFunction.slice(0, top)) process.stdout.write(`${kb(v)}  ${k}\n`);
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
    rows.push(await measureAlloc(cfg, run).catch((err) => ({ ...errorRow(cfg), error: String(err) })));
  }
  return rows;
}

const errorRow = (cfg: AllocConfig): AllocResult => ({
  name: cfg.name,
  adds: cfg.adds,
  base: cfg.base,
  stream: cfg.stream,
  requests: 0,
  bytesPerReq: Number.NaN,
  promotedPerReq: Number.NaN,
  scavengesPer1kReq: Number.NaN,
  markCompacts: 0,
  idleBytesPerSec: Number.NaN,
});

/** Each row on each compiled tree in turn, `rounds` times: the median KiB per request per tree. */
async function abDists(run: AllocRun, dists: string[], rounds: number, only?: string[]): Promise<string> {
  const lines = [`| configuration | ${dists.join(' | ')} |`, `|---|${dists.map(() => '---:|').join('')}`];
  for (const cfg of ALLOC_CONFIGS.filter((c) => !only || only.includes(c.name))) {
    const kib: number[][] = dists.map(() => []);
    for (let r = 0; r < rounds; r++)
      for (const [i, distDir] of dists.entries()) {
        const res = await measureAlloc(cfg, { ...run, distDir });
        if (res.error) throw new Error(`${cfg.name} on ${distDir}: ${res.error}`);
        kib[i]?.push(res.bytesPerReq / 1024);
        process.stderr.write(`[alloc] ${cfg.name} ${distDir}: ${(res.bytesPerReq / 1024).toFixed(2)} KiB\n`);
      }
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
    lines.push(
      `| ${cfg.name} | ${kib.map((xs) => `${med(xs).toFixed(1)} [${xs.map((x) => x.toFixed(1)).join(', ')}]`).join(' | ')} |`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      profile: { type: 'string' },
      top: { type: 'string', default: '30' },
      count: { type: 'string' },
      'no-build': { type: 'boolean', default: false },
      // A/B of a change: compiled trees (tsc -p tsconfig.build.json --outDir .cache/x), rows alternate
      dist: { type: 'string', multiple: true },
      rounds: { type: 'string', default: '3' },
    },
  });
  pinSelf(CLIENT_CORE);
  if (!values['no-build'])
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: REPO, stdio: ['ignore', 'ignore', 'inherit'] });
  const tmpDir = join(REPO, 'bench', 'results', 'tmp');
  mkdirSync(tmpDir, { recursive: true });
  const children: Started[] = [];
  const start = async (name: string, cmd: string, args: (port: number) => string[]) => {
    const port = await freePort();
    const s = startPinned(name, CLIENT_CORE, cmd, args(port), { logFile: join(tmpDir, `${name}.log`) });
    children.push(s);
    await waitForPort(port, 10_000, () => s.child.exitCode === null);
    return port;
  };
  const load0 = loadAverage();
  try {
    const mockPort = await start('mock-paced', process.execPath, (p) => [
      join(REPO, 'bench/mock_upstream.ts'),
      `${p}`,
      `${CHUNK_GAP_MS}`,
    ]);
    const redisPort = await start('redis', 'redis-server', (p) => [
      '--port',
      `${p}`,
      '--bind',
      '127.0.0.1',
      '--save',
      '',
    ]);
    const otlpPort = await start('otlp-sink', process.execPath, (p) => [
      join(REPO, 'bench/otlp_sink.ts'),
      `${p}`,
    ]);
    const count = Number(values.count ?? (values.quick ? 1500 : 4000));
    const run: AllocRun = {
      mockPort,
      redisPort,
      otlpUrl: `http://127.0.0.1:${otlpPort}/v1/traces`,
      tmpDir,
      count,
      warmup: values.quick ? 500 : 1500,
    };
    if (values.profile) {
      const cfg = ALLOC_CONFIGS.find((c) => c.name === values.profile);
      if (!cfg)
        throw new Error(`no row named "${values.profile}": ${ALLOC_CONFIGS.map((c) => c.name).join(', ')}`);
      await profileRow(cfg, run, Number(values.top));
      return;
    }
    if (values.dist?.length) {
      const dists = values.dist.map((d) => resolve(d));
      process.stdout.write(`${await abDists(run, dists, Number(values.rounds), values.only?.split(','))}\n`);
      return;
    }
    const rows = await runAllocTable(
      run,
      (m) => process.stderr.write(`[alloc] ${m}\n`),
      values.only?.split(','),
    );
    process.stdout.write(
      `${renderAlloc(rows)}\n\n${count} requests per row, ${IN_FLIGHT} in flight; load average ${load0.join(' ')} -> ${loadAverage().join(' ')}\n`,
    );
  } finally {
    for (const c of children.reverse()) await c.stop().catch(() => {});
  }
}

if (import.meta.main) await main();
