// `npm run bench [-- --quick] [-- --targets=direct,sluice,...] [-- --no-micro] [-- --no-docs]`
// Everything on loopback in one process tree: the mock upstream, Redis and the load generators on the
// client core, each gateway in turn on the gateway core. Writes bench/results/latest.json (or
// bench/results/tmp/quick.json) and, for full runs, the results section of docs/benchmarks.md.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type AllocResult, CHUNK_GAP_MS, runAllocTable, WARMUP_REQUESTS } from './alloc_measure.ts';
import { runMicro } from './micro/run_all.ts';
import {
  CLIENT_CORE,
  freePort,
  hasCommand,
  loadAverage,
  pinSelf,
  type Started,
  startMock,
  startPinned,
  startRedis,
  waitForPort,
} from './procs.ts';
import { renderResults, updateDocs } from './report.ts';
import type { BenchResults, TargetResult } from './results.ts';
import {
  fixedRate,
  summarizeThroughput,
  type ThroughputRun,
  type Timing,
  throughputRun,
  warmUp,
} from './scenarios.ts';
import { ensureLitellm } from './setup_litellm.ts';
import {
  direct,
  floor,
  litellm,
  portkey,
  REPO,
  sluiceBare,
  sluiceFull,
  sluiceTraced,
  sluiceV8Defaults,
  type TargetSpec,
} from './targets.ts';
import { verifyTarget } from './verify.ts';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    targets: { type: 'string' },
    'no-micro': { type: 'boolean', default: false },
    // the allocation table (bench/alloc.ts) runs whenever Sluice is among the targets
    'no-alloc': { type: 'boolean', default: false },
    'no-docs': { type: 'boolean', default: false },
    out: { type: 'string' },
    // for A/B checks of one change: shorter or longer runs than the defaults, no fixed-rate phase
    seconds: { type: 'string' },
    repeats: { type: 'string' },
    'no-fixed': { type: 'boolean', default: false },
    connections: { type: 'string' },
  },
});
const quick = values.quick === true;
const timing: Timing = quick
  ? { seconds: 2, repeats: 1, warmupScale: 0.3, fixedRate: 1000, fixedSeconds: 2 }
  : { seconds: 10, repeats: 3, warmupScale: 1, fixedRate: 1000, fixedSeconds: 10 };
if (values.seconds) timing.seconds = Number(values.seconds);
if (values.repeats) timing.repeats = Number(values.repeats);
const CONNECTIONS = values.connections ? values.connections.split(',').map(Number) : quick ? [50] : [50, 200];
const ALL: TargetSpec[] = [
  direct,
  floor,
  sluiceBare,
  sluiceTraced,
  sluiceV8Defaults,
  sluiceFull,
  portkey,
  litellm,
];
const wanted = values.targets?.split(',').map((s) => s.trim());
const specs = wanted ? ALL.filter((s) => wanted.includes(s.name)) : ALL;

const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);
const tmpDir = join(REPO, 'bench', 'results', 'tmp');
mkdirSync(tmpDir, { recursive: true });

function preflight(): void {
  const missing: string[] = [];
  for (const cmd of ['taskset', 'wrk', 'redis-server', 'python3']) if (!hasCommand(cmd)) missing.push(cmd);
  if (missing.length) {
    throw new Error(
      `missing tools: ${missing.join(', ')}. On Debian: apt-get install -y ${missing
        .map((m) => (m === 'taskset' ? 'util-linux' : m === 'redis-server' ? 'redis-server' : m))
        .join(' ')}`,
    );
  }
  if (cpus().length < 2) throw new Error('the bench pins gateway and client to different cores: it needs 2');
}

function machine(): BenchResults['machine'] {
  const cpu = cpus()[0]?.model ?? 'unknown';
  let kernel = '';
  try {
    kernel = execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim();
  } catch {
    // not fatal
  }
  let wrk = '';
  try {
    execFileSync('wrk', ['--version'], { encoding: 'utf8', stdio: 'pipe' });
  } catch (err) {
    // wrk prints its version with the usage text and exits 1
    wrk =
      String((err as { stdout?: string }).stdout ?? '')
        .split('\n')[0]
        ?.trim() ?? '';
  }
  return {
    cpu,
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel,
    node: process.versions.node,
    wrk,
  };
}

interface Live {
  spec: TargetSpec;
  result: TargetResult;
  t: Awaited<ReturnType<TargetSpec['start']>> | undefined;
}

/** Start and verify one target; a target that cannot start or answers wrongly is reported, not run. */
async function startTarget(spec: TargetSpec, ctx: Parameters<TargetSpec['start']>[0]): Promise<Live> {
  const result: TargetResult = {
    name: spec.name,
    description: spec.description,
    throughput: [],
    fixedRate: [],
    notes: [],
  };
  const live: Live = { spec, result, t: undefined };
  if (spec.name === 'litellm') {
    const setup = ensureLitellm(log);
    if (!setup.ok) {
      result.error = `LiteLLM could not be installed: ${setup.reason}`;
      return live;
    }
  }
  log(`${spec.name}: starting`);
  try {
    live.t = await spec.start(ctx);
  } catch (err) {
    result.error = (err as Error).message;
    return live;
  }
  result.version = live.t.version;
  const problems = await verifyTarget(live.t.endpoint);
  result.verified = problems.length === 0;
  if (problems.length) {
    result.error = `correctness check failed: ${problems.join('; ')}`;
    await stopTarget(live);
  }
  return live;
}

async function stopTarget(live: Live): Promise<void> {
  const t = live.t;
  live.t = undefined;
  await t?.stop().catch(() => {});
}

/**
 * The closed-loop scenarios, interleaved: every target is warmed up, then each repeat runs every target
 * once before the next repeat begins. This machine goes through slow phases of minutes (docs/
 * benchmarks.md); run target after target, a phase fell on one target's runs and the ratios the
 * targets are judged by measured the phase. Interleaved, a phase touches every target alike.
 */
async function closedLoop(targets: Live[]): Promise<void> {
  for (const stream of [false, true]) {
    for (const c of CONNECTIONS) {
      const mode = `${stream ? 'stream' : 'non-stream'} x${c}`;
      const runs = new Map<Live, ThroughputRun[]>();
      for (const live of targets.filter((l) => l.t)) {
        log(`${live.spec.name}: ${mode} warm-up`);
        await guarded(live, () => warmUp(live.t as NonNullable<Live['t']>, stream, c, timing, tmpDir));
        runs.set(live, []);
      }
      for (let i = 0; i < timing.repeats; i++) {
        for (const [live, done] of runs) {
          if (!live.t) continue;
          log(`${live.spec.name}: ${mode} run ${i + 1}/${timing.repeats}`);
          await guarded(live, async () => {
            done.push(await throughputRun(live.t as NonNullable<Live['t']>, stream, c, timing, tmpDir));
          });
        }
      }
      for (const [live, done] of runs)
        if (done.length === timing.repeats)
          live.result.throughput.push(summarizeThroughput(stream, c, timing.seconds, done));
    }
  }
}

/** A failing target is reported with its error and stopped; the others go on. */
async function guarded(live: Live, run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (err) {
    live.result.error = `${(err as Error).message}`;
    log(`${live.spec.name}: ${live.result.error.split('\n')[0]}`);
    await stopTarget(live);
  }
}

/** The open-loop phase of one target (after the closed loop: it needs the target's capacity). */
async function openLoop(live: Live): Promise<void> {
  const t = live.t;
  if (!t) return;
  const result = live.result;
  for (const stream of values['no-fixed'] ? [] : [false, true]) {
    // An open-loop rate above what the target can serve only measures an ever-growing queue.
    const capacity = result.throughput.find((x) => x.stream === stream)?.reqPerSec.median ?? 0;
    if (capacity < timing.fixedRate * 1.1) {
      result.notes.push(
        `fixed ${timing.fixedRate} req/s ${stream ? 'stream' : 'non-stream'} not run: the target serves at most ~${Math.round(capacity)} req/s on its core`,
      );
      continue;
    }
    log(`${live.spec.name}: fixed ${timing.fixedRate} req/s ${stream ? 'stream' : 'non-stream'}`);
    await guarded(live, async () => {
      result.fixedRate.push(await fixedRate(t, stream, timing));
    });
  }
}

async function main(): Promise<void> {
  preflight();
  pinSelf(CLIENT_CORE);
  // Sluice is measured as the image runs it: the compiled dist/, built from this checkout now.
  log('building dist/ (npm run build)');
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: REPO, stdio: ['ignore', 'ignore', 'inherit'] });
  const startedAt = new Date().toISOString();
  const loadBefore = loadAverage();
  log(
    `load average before: ${loadBefore.join(' ')}${loadBefore[0] > 0.5 ? ' (machine is busy: numbers will be noisier)' : ''}`,
  );
  const children: Array<Pick<Started, 'stop'>> = [];
  const cleanup = async () => {
    for (const c of children.reverse()) await c.stop().catch(() => {});
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
  try {
    const { port: mockPort, proc: mock } = await startMock(tmpDir);
    children.push(mock);
    // where the traced target's spans go: a sink on the client core, like the mock
    const otlpPort = await freePort();
    const otlp = startPinned(
      'otlp-sink',
      CLIENT_CORE,
      process.execPath,
      [join(REPO, 'bench/otlp_sink.ts'), String(otlpPort)],
      {
        logFile: join(tmpDir, 'otlp-sink.log'),
      },
    );
    children.push(otlp);
    await waitForPort(otlpPort, 10_000, () => otlp.child.exitCode === null);
    const otlpUrl = `http://127.0.0.1:${otlpPort}/v1/traces`;
    // Redis backs the full policy stack and the limiter micro-benchmark; it shares the client core.
    const redis = await startRedis(tmpDir);
    children.push(redis.proc);
    // every target runs side by side on the gateway core (idle but for the one measured), so the
    // closed loop can interleave them (closedLoop)
    const live: Live[] = [];
    for (const spec of specs) {
      if (spec === litellm && quick && !ensureLitellmQuick()) {
        live.push({
          spec,
          t: undefined,
          result: {
            name: 'litellm',
            description: spec.description,
            throughput: [],
            fixedRate: [],
            notes: [],
            error: 'skipped in --quick (venv not installed)',
          },
        });
        continue;
      }
      const l = await startTarget(spec, { mockPort, tmpDir, redisPort: redis.port, useDist: true, otlpUrl });
      live.push(l);
      if (l.result.error) log(`${spec.name}: ${l.result.error.split('\n')[0]}`);
      if (l.t) children.push({ stop: () => stopTarget(l) });
    }
    await closedLoop(live);
    for (const l of live) await openLoop(l);
    for (const l of live) await stopTarget(l);
    const targets: TargetResult[] = live.map((l) => l.result);
    let alloc: AllocResult[] | undefined;
    if (!values['no-alloc'] && specs.includes(sluiceBare)) {
      // its own mock, pacing stream chunks (bench/alloc.ts CHUNK_GAP_MS)
      const { port: pacedPort, proc: paced } = await startMock(tmpDir, {
        name: 'mock-paced',
        chunkGapMs: CHUNK_GAP_MS,
      });
      children.push(paced);
      const run = { mockPort: pacedPort, redisPort: redis.port, otlpUrl, tmpDir };
      alloc = await runAllocTable(
        quick ? { ...run, count: 800, warmup: 300 } : { ...run, count: 4000, warmup: WARMUP_REQUESTS },
        log,
      );
    }
    const micro = values['no-micro'] ? undefined : await runMicro(quick, log, redis.port);
    const results: BenchResults = {
      startedAt,
      finishedAt: new Date().toISOString(),
      quick,
      timing,
      connections: CONNECTIONS,
      machine: { ...machine(), redis: redis.version },
      loadAverage: { before: loadBefore, after: loadAverage() },
      targets,
      micro,
      alloc,
    };
    const out =
      values.out ?? (quick ? join(tmpDir, 'quick.json') : join(REPO, 'bench', 'results', 'latest.json'));
    writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
    log(`wrote ${out}`);
    process.stdout.write(`${renderResults(results)}\n`);
    if (!quick && !values['no-docs'] && !wanted) {
      updateDocs(join(REPO, 'docs', 'benchmarks.md'), results);
      log('updated docs/benchmarks.md');
    }
  } finally {
    await cleanup();
  }
}

/** --quick never installs the ~650 MB LiteLLM venv; it uses it if it is already there. */
function ensureLitellmQuick(): boolean {
  try {
    readFileSync(join(REPO, '.cache', 'bench-venv', 'bin', 'litellm'));
    return ensureLitellm(log).ok;
  } catch {
    return false;
  }
}

await main();
