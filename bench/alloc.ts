// Bytes the gateway allocates per request, feature by feature: `node bench/alloc.ts [--quick]
// [--only name,...] [--profile name [--top 30]] [--dist dirA --dist dirB | --flags=... --flags=...]`
// (the measurement itself is alloc_measure.ts, also a phase of `npm run bench`). Each row starts Sluice's dist/ with the shipped Node flags plus bench/alloc_probe.ts (an exact
// running total of the bytes V8 allocated, from the GC's own before/after counts), warms it up, then
// sends a fixed number of requests and divides. The rows add one feature at a time, so the difference
// to the row named in `base` is what that feature allocates. Allocation, unlike latency, hardly depends
// on how busy the machine is: it is the number to compare across runs on a shared machine. --profile
// runs one row under V8's sampling heap profiler (freed objects included) and prints the largest
// allocators by function and by file.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  ALLOC_CONFIGS,
  type AllocConfig,
  type AllocResult,
  type AllocRun,
  CHUNK_GAP_MS,
  IN_FLIGHT,
  measureAlloc,
  renderAlloc,
  runAllocTable,
  STREAM_IN_FLIGHT,
  startProbed,
  WARMUP_REQUESTS,
} from './alloc_measure.ts';
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
import { REPO } from './targets.ts';

async function profileRow(cfg: AllocConfig, run: AllocRun, top: number, survivors: boolean): Promise<void> {
  const { t, probe } = await startProbed(cfg, run);
  try {
    const load = {
      url: t.endpoint.url,
      headers: t.endpoint.headers,
      stream: cfg.stream,
      inFlight: run.inFlight ?? (cfg.stream ? STREAM_IN_FLIGHT : IN_FLIGHT),
    };
    await runCounted({ ...load, count: run.warmup });
    await probe('POST', `/heap-prof/start?interval=1024${survivors ? '&survivors=1' : ''}`);
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

interface Variant {
  label: string;
  distDir?: string;
  extraFlags?: string[];
}

/** Each row on each variant (a compiled tree or extra Node flags) in turn, `rounds` times: medians. */
async function abVariants(
  run: AllocRun,
  variants: Variant[],
  rounds: number,
  only?: string[],
): Promise<string> {
  const lines = [
    '| configuration | variant | KiB / request | KiB promoted / request | scavenges / 1k | mark-compacts / 10k | GC ms / 1k | peak RSS MiB |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
  ];
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
  for (const cfg of ALLOC_CONFIGS.filter((c) => !only || only.includes(c.name))) {
    const res: AllocResult[][] = variants.map(() => []);
    for (let r = 0; r < rounds; r++)
      for (const [i, v] of variants.entries()) {
        const x = await measureAlloc(cfg, { ...run, distDir: v.distDir, extraFlags: v.extraFlags });
        if (x.error) throw new Error(`${cfg.name} on ${v.label}: ${x.error}`);
        res[i]?.push(x);
        process.stderr.write(
          `[alloc] ${cfg.name} ${v.label}: ${(x.bytesPerReq / 1024).toFixed(2)} KiB, ${x.markCompacts} mark-compacts, ${x.rssPeakMiB.toFixed(0)} MiB\n`,
        );
      }
    for (const [i, v] of variants.entries()) {
      const xs = res[i] ?? [];
      const col = (f: (x: AllocResult) => number, d: number) =>
        `${med(xs.map(f)).toFixed(d)} [${xs.map((x) => f(x).toFixed(d)).join(', ')}]`;
      lines.push(
        `| ${cfg.name} | ${v.label} | ${col((x) => x.bytesPerReq / 1024, 1)} | ${col((x) => x.promotedPerReq / 1024, 2)} | ${col((x) => x.scavengesPer1kReq, 1)} | ${col((x) => (x.markCompacts * 10_000) / x.requests, 1)} | ${col((x) => x.gcMsPer1kReq, 0)} | ${col((x) => x.rssPeakMiB, 0)} |`,
      );
    }
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
      // heap settings to compare, each a variant after the shipped flags: --flags=--max-semi-space-size=16
      flags: { type: 'string', multiple: true },
      'in-flight': { type: 'string' },
      // --profile shows only what outlived a scavenge: what is promoted, and what mark-compacts collect
      survivors: { type: 'boolean', default: false },
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
      warmup: values.quick ? 500 : WARMUP_REQUESTS,
    };
    // --in-flight 1 shows pure retention: with one request at a time, nothing is caught in flight
    if (values['in-flight']) run.inFlight = Number(values['in-flight']);
    if (values.profile) {
      const cfg = ALLOC_CONFIGS.find((c) => c.name === values.profile);
      if (!cfg)
        throw new Error(`no row named "${values.profile}": ${ALLOC_CONFIGS.map((c) => c.name).join(', ')}`);
      await profileRow(cfg, run, Number(values.top), values.survivors === true);
      return;
    }
    if (values.dist?.length || values.flags?.length) {
      const variants: Variant[] = [
        ...(values.dist ?? []).map((d) => ({ label: d, distDir: resolve(d) })),
        ...(values.flags ?? []).map((f) => ({
          label: f || 'shipped',
          extraFlags: f.split(' ').filter(Boolean),
        })),
      ];
      const table = await abVariants(run, variants, Number(values.rounds), values.only?.split(','));
      process.stdout.write(`${table}\n\nload average ${load0.join(' ')} -> ${loadAverage().join(' ')}\n`);
      return;
    }
    const rows = await runAllocTable(
      run,
      (m) => process.stderr.write(`[alloc] ${m}\n`),
      values.only?.split(','),
    );
    process.stdout.write(
      `${renderAlloc(rows)}\n\n${count} requests per row, ${run.inFlight ?? `${IN_FLIGHT} (streams ${STREAM_IN_FLIGHT})`} in flight; load average ${load0.join(' ')} -> ${loadAverage().join(' ')}\n`,
    );
  } finally {
    for (const c of children.reverse()) await c.stop().catch(() => {});
  }
}

if (import.meta.main) await main();
