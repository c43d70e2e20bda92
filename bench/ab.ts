// A/B one change to the hot path: `node bench/ab.ts --a <rev or dir> [--b <rev or dir>] [--stream]`.
// A side may also be `dist` (this checkout's compiled dist/, as the image runs it) or any compiled tree.
// Each side is Sluice run from a tree (a git revision is exported with `git archive` into
// bench/results/tmp/ab-<rev>, sharing this checkout's node_modules; `--b` defaults to the working tree).
// Rounds alternate A, B, A, B ... against one mock, so drift and neighbours' load hit both sides alike;
// the report is the median CPU per request and req/s of each side and their ratio.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runWrk } from './load/wrk.ts';
import {
  CLIENT_CORE,
  freePort,
  loadAverage,
  pinSelf,
  rssSampler,
  startMock,
  startPinned,
  treeCpuMs,
  waitForPort,
} from './procs.ts';
import { fixedRateProcess } from './scenarios.ts';
import { median } from './stats.ts';
import { floor, REPO, sluiceBare, sluiceFull, sluiceTraced } from './targets.ts';
import { verifyTarget } from './verify.ts';

function tree(spec: string): string {
  if (spec === 'worktree') return REPO;
  // this checkout's compiled dist/ (npm run build), as the image runs it: no type stripper in the RSS
  if (spec === 'dist') return join(REPO, 'dist');
  if (existsSync(spec)) return spec;
  const rev = execFileSync('git', ['rev-parse', '--short', spec], { cwd: REPO, encoding: 'utf8' }).trim();
  // outside bench/ so neither tsc, biome nor vitest pick up the exported copy
  const dir = join(REPO, '.cache', 'ab', rev);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  execFileSync(
    'sh',
    ['-c', `git archive ${rev} bin cli dataplane operator kube package.json | tar -x -C ${dir}`],
    {
      cwd: REPO,
    },
  );
  symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      a: { type: 'string', default: 'HEAD' },
      b: { type: 'string', default: 'worktree' },
      stream: { type: 'boolean', default: false },
      full: { type: 'boolean', default: false },
      rounds: { type: 'string', default: '3' },
      seconds: { type: 'string', default: '6' },
      connections: { type: 'string', default: '50' },
      // open-loop load at this rate instead of wrk's closed loop: both sides then do the same work per
      // second, so CPU per request compares even when neighbours slow the machine down
      rate: { type: 'string' },
      // side B is the floor passthrough instead of a Sluice tree: how far is Sluice from the floor?
      'b-floor': { type: 'boolean', default: false },
      // side B has OpenTelemetry tracing on (10% sampled, exported to bench/otlp_sink.ts): its cost
      'b-traced': { type: 'boolean', default: false },
      // extra environment for one side, e.g. --b-env SLUICE_LOG_LEVEL=warn (to price one feature)
      'a-env': { type: 'string', multiple: true },
      'b-env': { type: 'string', multiple: true },
      // extra Node flags for one side, after the shipped ones (V8 takes the last value of a flag), e.g.
      // --b-flags '--max-semi-space-size=16' to try other heap settings
      'a-flags': { type: 'string' },
      'b-flags': { type: 'string' },
    },
  });
  pinSelf(CLIENT_CORE);
  const tmpDir = join(REPO, 'bench', 'results', 'tmp');
  mkdirSync(tmpDir, { recursive: true });
  const sides = { A: tree(values.a as string), B: tree(values.b as string) };
  const { port: mockPort, proc: mock } = await startMock(tmpDir);
  let redis: ReturnType<typeof startPinned> | undefined;
  let otlp: ReturnType<typeof startPinned> | undefined;
  let otlpUrl: string | undefined;
  const load0 = loadAverage();
  const cpu: Record<string, number[]> = { A: [], B: [] };
  const rps: Record<string, number[]> = { A: [], B: [] };
  // p99 per round (open loop: from the scheduled send time) and the gateway's peak RSS
  const p99: Record<string, number[]> = { A: [], B: [] };
  const ttft: Record<string, number[]> = { A: [], B: [] };
  const rss: Record<string, number[]> = { A: [], B: [] };
  try {
    let redisPort: number | undefined;
    if (values.full) {
      redisPort = await freePort();
      redis = startPinned(
        'redis',
        CLIENT_CORE,
        'redis-server',
        ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', ''],
        {
          logFile: join(tmpDir, 'redis.log'),
        },
      );
      await waitForPort(redisPort, 10_000);
    }
    if (values['b-traced']) {
      const otlpPort = await freePort();
      otlp = startPinned(
        'otlp-sink',
        CLIENT_CORE,
        process.execPath,
        [join(REPO, 'bench/otlp_sink.ts'), String(otlpPort)],
        {
          logFile: join(tmpDir, 'otlp-sink.log'),
        },
      );
      await waitForPort(otlpPort, 10_000);
      otlpUrl = `http://127.0.0.1:${otlpPort}/v1/traces`;
    }
    const spec = values.full ? sluiceFull : sluiceBare;
    const stream = values.stream === true;
    for (let round = 0; round < Number(values.rounds); round++) {
      for (const side of ['A', 'B'] as const) {
        const s =
          side === 'B' && values['b-floor']
            ? floor
            : side === 'B' && values['b-traced']
              ? sluiceTraced
              : spec;
        const extra = (side === 'A' ? values['a-env'] : values['b-env']) ?? [];
        const env = Object.fromEntries(
          extra.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
        );
        const flags = (side === 'A' ? values['a-flags'] : values['b-flags'])?.split(' ').filter(Boolean);
        const t = await s.start({
          mockPort,
          tmpDir,
          redisPort,
          // a compiled tree (dist/ or tsc --outDir) runs as the image does; a source tree via bin/sluice.js
          ...(existsSync(join(sides[side], 'cli', 'main.js'))
            ? { distDir: sides[side] }
            : { sluiceRoot: sides[side] }),
          env,
          otlpUrl,
          sluiceExtraFlags: flags,
        });
        try {
          const problems = await verifyTarget(t.endpoint, 1);
          if (problems.length) throw new Error(`${side}: ${problems.join('; ')}`);
          const base = {
            url: t.endpoint.url,
            headers: t.endpoint.headers,
            stream,
            connections: Number(values.connections),
            tmpDir,
          };
          let valid: number;
          let perSec: number;
          if (values.rate) {
            const fr = {
              url: t.endpoint.url,
              headers: t.endpoint.headers,
              stream,
              rate: Number(values.rate),
              connections: 64,
            };
            await fixedRateProcess({ ...fr, seconds: 3, warmupSeconds: 0 });
            const c0 = treeCpuMs(t.pid as number);
            const peak = rssSampler(t.pid as number);
            const r = await fixedRateProcess({ ...fr, seconds: Number(values.seconds), warmupSeconds: 0 });
            cpu[side]?.push((treeCpuMs(t.pid as number) - c0) / r.valid);
            rss[side]?.push(peak.stop());
            p99[side]?.push(r.latencyMs.p99);
            if (r.ttftMs) ttft[side]?.push(r.ttftMs.p50);
            valid = r.valid;
            perSec = r.achievedRate;
          } else {
            await runWrk({ ...base, seconds: 3 });
            const c0 = treeCpuMs(t.pid as number);
            const peak = rssSampler(t.pid as number);
            const r = await runWrk({ ...base, seconds: Number(values.seconds) });
            cpu[side]?.push((treeCpuMs(t.pid as number) - c0) / r.valid);
            rss[side]?.push(peak.stop());
            p99[side]?.push(r.latencyMs.p99);
            valid = r.valid;
            perSec = r.validPerSec;
          }
          if (valid === 0) throw new Error(`${side}: no valid responses`);
          rps[side]?.push(perSec);
          process.stderr.write(
            `round ${round + 1} ${side}: ${Math.round(perSec)} req/s, ${((cpu[side]?.at(-1) ?? 0) * 1000).toFixed(1)} µs CPU/req, p99 ${p99[side]?.at(-1)?.toFixed(2)} ms, RSS ${rss[side]?.at(-1)?.toFixed(0)} MiB\n`,
          );
        } finally {
          await t.stop();
        }
      }
    }
  } finally {
    await redis?.stop();
    await otlp?.stop();
    await mock.stop();
  }
  const a = median(cpu.A ?? []);
  const b = median(cpu.B ?? []);
  const list = (xs: number[] | undefined, d: number) => (xs ?? []).map((x) => x.toFixed(d)).join(', ');
  const line = (side: 'A' | 'B', spec: string) =>
    `${side} (${spec}${(side === 'A' ? values['a-flags'] : values['b-flags']) ? ` ${side === 'A' ? values['a-flags'] : values['b-flags']}` : ''}): ${(median(cpu[side] ?? []) * 1000).toFixed(1)} µs CPU/req [${(cpu[side] ?? []).map((x) => (x * 1000).toFixed(1)).join(', ')}], ${Math.round(median(rps[side] ?? []))} req/s` +
    `, p99 ${median(p99[side] ?? []).toFixed(2)} ms [${list(p99[side], 2)}]` +
    `${ttft[side]?.length ? `, TTFT p50 ${median(ttft[side] ?? []).toFixed(2)} ms` : ''}, peak RSS ${median(rss[side] ?? []).toFixed(0)} MiB [${list(rss[side], 0)}]`;
  process.stdout.write(
    [
      `${values.full ? 'sluice-full' : 'sluice'} ${values.stream ? 'stream' : 'non-stream'} ${values.rate ? `at ${values.rate} req/s` : `x${values.connections}`}, ${values.rounds} alternating rounds of ${values.seconds} s, load average ${load0.join(' ')} -> ${loadAverage().join(' ')}`,
      line('A', values.a as string),
      line('B', values.b as string),
      `B/A CPU per request: ${(b / a).toFixed(3)} (${((1 - b / a) * 100).toFixed(1)}% less)`,
    ].join('\n') + '\n',
  );
}

await main();
