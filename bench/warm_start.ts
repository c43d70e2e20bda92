// First-second latency of a fresh replica under load, with and without the hot-path warm-up
// (issue 12, "ready means warm"), compared within one run. `npm run bench:warm-start`.
//
// Method, as the issue measured it: test/hostile's harness starts redis-server and one `sluice serve`
// replica pinned to one core next to a process burning that core (a pod at its CPU limit); this
// process, pinned to the other core, polls /readyz and the moment it answers 200 fires a closed loop
// of CONCURRENCY clients for LOAD_MS (chat completions whole and streamed, Anthropic messages, in
// turn, through the mock provider with limits charged in Redis). Latency is start to last byte.
// "first wave" = the first CONCURRENCY requests (one per client, all sent the moment it is ready);
// "first second" = requests started in the first 1,000 ms after ready; "settled" = those started
// from 2,000 ms on. Arms alternate (off, on, on, off, ...) so a change in the machine's load hits
// both, after one discarded run; the load average is recorded before and after (shared machine).
// Arm "off" = SLUICE_WARMUP_HOT_PATH=off: tokenizer tables and Redis scripts only (what the warm-up
// did before this change, minus its direct calls of the validators); arm "on" = the full warm-up.
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { REPO_ROOT } from '../test/helpers/dataplane.ts';
import { startHostile, waitReady } from '../test/hostile/harness.ts';
import { sha256 } from '../test/policy/fixtures.ts';
import { pinSelf, treeCpuMs } from './procs.ts';

const RUNS = Math.max(1, Number(process.env.WARM_START_RUNS ?? 3));
const CONCURRENCY = Number(process.env.WARM_START_CONCURRENCY ?? 16);
const LOAD_MS = 3_000;
const KEY = 'sk-warm-start-bench';

type Arm = 'off' | 'on';

interface Sample {
  /** ms after /readyz first answered 200 */
  at: number;
  ms: number;
  status: number;
}

function config(redisUrl: string): Record<string, unknown> {
  return {
    store: { type: 'redis', redis: { url: redisUrl } },
    providers: [
      {
        name: 'mock',
        type: 'mock',
        models: [{ name: 'gpt-4o-mini', pricing: { inputPerMTok: 1, outputPerMTok: 4 } }],
        mock: { outputTokens: 20, chunkTokens: 1 },
      },
    ],
    routes: [{ name: 'chat', match: { models: ['gpt-4o-mini'] }, backends: [{ provider: 'mock' }] }],
    namespaces: [
      { name: 'bench', match: { apiKeys: [{ name: 'k', sha256: sha256(KEY) }] }, policies: ['p'] },
    ],
    // limits that never refuse, so every request pays for admission and settlement in Redis
    policies: [
      {
        name: 'p',
        requests: { limit: 1_000_000, window: 'minute' },
        tokens: [{ limit: 1_000_000_000, window: 'day' }],
      },
    ],
  };
}

const messages = [{ role: 'user', content: 'Summarise the quarterly report in one line, please.' }];
const REQUESTS: Array<{ path: string; body: string }> = [
  { path: '/v1/chat/completions', body: JSON.stringify({ model: 'gpt-4o-mini', messages }) },
  {
    path: '/v1/chat/completions',
    body: JSON.stringify({
      model: 'gpt-4o-mini',
      messages,
      stream: true,
      stream_options: { include_usage: true },
    }),
  },
  { path: '/v1/messages', body: JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 64, messages }) },
];

/**
 * The replica's CPU time (utime + stime, all threads) at 0, 1, 2 s and the end: CPU ms per request
 * answered in a window is far less sensitive to the shared machine's load than latency is.
 */
interface CpuMarks {
  at: number[];
  cpuMs: number[];
}

async function load(url: string, t0: number, pid: number, cpu: CpuMarks): Promise<Sample[]> {
  const samples: Sample[] = [];
  const mark = () => {
    cpu.at.push(performance.now() - t0);
    cpu.cpuMs.push(treeCpuMs(pid));
  };
  mark();
  const timers = [1_000, 2_000].map((ms) => setTimeout(mark, ms));
  let next = 0;
  const worker = async () => {
    while (performance.now() - t0 < LOAD_MS) {
      const r = REQUESTS[next++ % REQUESTS.length] as (typeof REQUESTS)[number];
      const start = performance.now();
      const res = await fetch(`${url}${r.path}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${KEY}`,
          'anthropic-version': '2023-06-01',
        },
        body: r.body,
      }).catch(() => undefined);
      await res?.arrayBuffer();
      samples.push({ at: start - t0, ms: performance.now() - start, status: res?.status ?? 0 });
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  for (const t of timers) clearTimeout(t);
  mark();
  return samples;
}

interface RunResult {
  arm: Arm;
  /** spawn to /readyz 200 */
  readyMs: number;
  /** what the replica reported about its warm-up */
  warmMs: number | undefined;
  samples: Sample[];
  cpu: CpuMarks;
}

async function runOnce(arm: Arm): Promise<RunResult> {
  process.env.SLUICE_WARMUP_HOT_PATH = arm;
  const spawned = performance.now();
  const h = await startHostile({ config, replicas: 1 });
  try {
    const replica = h.replicas[0];
    if (!replica) throw new Error('no replica');
    await waitReady(replica.url);
    const t0 = performance.now();
    const readyMs = t0 - spawned;
    const cpu: CpuMarks = { at: [], cpuMs: [] };
    const samples = await load(replica.url, t0, replica.child.pid as number, cpu);
    const details = (await (await fetch(`${replica.adminUrl}/readyz`)).json()) as { warm?: { ms: number } };
    return { arm, readyMs, warmMs: details.warm?.ms, samples, cpu };
  } finally {
    await h.stop();
  }
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

function summary(samples: Sample[]) {
  const ms = samples.map((s) => s.ms).sort((a, b) => a - b);
  const r = (n: number) => Math.round(n * 10) / 10;
  return {
    n: ms.length,
    p50: r(percentile(ms, 50)),
    p99: r(percentile(ms, 99)),
    max: r(ms.at(-1) ?? 0),
    errors: samples.filter((s) => s.status !== 200).length,
  };
}

function median(xs: number[]): number {
  return percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );
}

/**
 * One run's figures. The machine is shared, so each run's first second is also divided by the same
 * run's settled p50: that ratio is what the warm-up should bring towards 1 whatever the load.
 */
function perRun(r: RunResult) {
  const wave = summary([...r.samples].sort((a, b) => a.at - b.at).slice(0, CONCURRENCY));
  const first = summary(r.samples.filter((s) => s.at < 1_000));
  const settled = summary(r.samples.filter((s) => s.at >= 2_000));
  // CPU ms per request answered in [from, to) (by completion time), from the CPU marks
  const cpuPerRequest = (i: number) => {
    const from = r.cpu.at[i] ?? 0;
    const to = r.cpu.at[i + 1] ?? 0;
    const done = r.samples.filter((s) => s.at + s.ms >= from && s.at + s.ms < to).length;
    const used = (r.cpu.cpuMs[i + 1] ?? 0) - (r.cpu.cpuMs[i] ?? 0);
    return Math.round((used / Math.max(1, done)) * 100) / 100;
  };
  return {
    firstWaveP50: wave.p50,
    firstWaveMax: wave.max,
    firstSecondP50: first.p50,
    firstSecondMax: first.max,
    firstSecondN: first.n,
    settledP50: settled.p50,
    firstSecondOverSettled: Math.round((first.p50 / Math.max(0.1, settled.p50)) * 100) / 100,
    cpuMsPerRequestFirstSecond: cpuPerRequest(0),
    cpuMsPerRequestSettled: cpuPerRequest(2),
    errors: first.errors + settled.errors,
    readyMs: Math.round(r.readyMs),
    warmMs: r.warmMs ?? 0,
  };
}

async function main(): Promise<void> {
  pinSelf('0');
  const loadBefore = loadavg();
  const results: RunResult[] = [];
  // one run thrown away first: this process's own fetch code is cold in its first run, which would
  // slow the first wave of whichever arm came first
  await runOnce('on');
  for (let i = 0; i < RUNS; i++)
    // the order alternates too, so a drift in the machine's load does not favour one arm
    for (const arm of i % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
      results.push(await runOnce(arm));
      await sleep(500);
    }
  const loadAfter = loadavg();
  const figures = (arm: Arm) => {
    const runs = results.filter((r) => r.arm === arm).map(perRun);
    const med = (k: keyof ReturnType<typeof perRun>) =>
      Math.round(median(runs.map((r) => r[k] as number)) * 10) / 10;
    const keys = [
      'firstWaveP50',
      'firstWaveMax',
      'firstSecondP50',
      'firstSecondMax',
      'settledP50',
      'firstSecondOverSettled',
      'cpuMsPerRequestFirstSecond',
      'cpuMsPerRequestSettled',
      'readyMs',
      'warmMs',
    ] as const;
    const medians: Record<string, number> = {};
    for (const k of keys) medians[k] = med(k);
    return { median: medians, runs };
  };
  const arms = { off: figures('off'), on: figures('on') };
  const ratio = (k: string) => Math.round(((arms.off.median[k] ?? 0) / (arms.on.median[k] ?? 1)) * 100) / 100;
  const out = {
    date: new Date().toISOString(),
    method:
      'one replica + redis-server pinned to one core with a CPU burner (test/hostile harness); load generator pinned to the other core fires at /readyz 200',
    concurrency: CONCURRENCY,
    runsPerArm: RUNS,
    loadavg: { before: loadBefore.map((x) => x.toFixed(2)), after: loadAfter.map((x) => x.toFixed(2)) },
    arms,
    // off / on: above 1 means the warm-up made the first second faster
    ratios: {
      firstWaveP50: ratio('firstWaveP50'),
      firstSecondP50: ratio('firstSecondP50'),
      firstSecondMax: ratio('firstSecondMax'),
      firstSecondOverSettled: ratio('firstSecondOverSettled'),
      cpuMsPerRequestFirstSecond: ratio('cpuMsPerRequestFirstSecond'),
    },
  };
  const file = join(REPO_ROOT, 'bench/results/warm_start.json');
  writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
  console.log(JSON.stringify(out, null, 2));
  console.log(`written to ${file}`);
}

await main();
