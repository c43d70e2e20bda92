// Does counting a large prompt stall the event loop for other requests?
// Measures event-loop delay (p50/p99/max, perf_hooks.monitorEventLoopDelay) while 256 KB prompts are
// tokenized (o200k_base) three ways in ONE run, so the numbers are ratios on the same machine:
//   idle    - nothing tokenized (the floor)
//   inline  - countPromptTokens on the main thread (what the request path did before the pool)
//   pool    - countPromptTokensAsync (worker_threads above 32 KB, what admission uses now)
// While tokenizing, a 1 ms "other request" timer measures how late it fires (p99 = what a concurrent
// short request would wait). Run: npx node bench/micro/tokenize_event_loop.ts [--rounds 20] [--kb 256]
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { countPromptTokens } from '../../dataplane/src/tokens/counter.ts';
import { countPromptTokensAsync } from '../../dataplane/src/tokens/pool.ts';

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '20' }, kb: { type: 'string', default: '256' } },
});
const ROUNDS = Number(values.rounds);
const SIZE = Number(values.kb) * 1024;

function prompt(seed: number): string {
  const words = ['gateway', ' token', ' 数据', ' limit', ' 42', ' stream', ' {', '}', ' budget', ' replica'];
  let s = `request ${seed}:`;
  for (let i = seed; s.length < SIZE; i++) s += words[(i * 7) % words.length];
  return s;
}

interface Result {
  scenario: string;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  otherRequestLateP99Ms: number;
  wallMs: number;
}

/** Fire a 1 ms timer continuously and record how late each one is. */
function otherRequests(): { stop(): number[] } {
  const late: number[] = [];
  let running = true;
  const tick = () => {
    const due = performance.now() + 1;
    setTimeout(() => {
      late.push(performance.now() - due);
      if (running) tick();
    }, 1);
  };
  tick();
  return {
    stop() {
      running = false;
      return late;
    },
  };
}

function pct(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

async function measure(scenario: string, work: (round: number) => Promise<void>): Promise<Result> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  const other = otherRequests();
  h.enable();
  const t0 = performance.now();
  for (let r = 0; r < ROUNDS; r++) await work(r);
  const wallMs = performance.now() - t0;
  h.disable();
  const late = other.stop();
  return {
    scenario,
    p50Ms: h.percentile(50) / 1e6,
    p99Ms: h.percentile(99) / 1e6,
    maxMs: h.max / 1e6,
    otherRequestLateP99Ms: pct(late, 99),
    wallMs,
  };
}

const texts = Array.from({ length: ROUNDS * 2 }, (_, i) => prompt(i));
// Warm up both paths (encoder tables load once per thread).
countPromptTokens(prompt(999), 1, 'o200k_base');
await countPromptTokensAsync(prompt(998), 1, 'o200k_base');

const idle = await measure('idle', async () => {
  await sleep(100);
});
const inline = await measure('inline', async (r) => {
  countPromptTokens(texts[r] as string, 2, 'o200k_base');
  await sleep(0);
});
const pool = await measure('pool', async (r) => {
  await countPromptTokensAsync(texts[ROUNDS + r] as string, 2, 'o200k_base');
});

const results = [idle, inline, pool];
console.table(
  results.map((r) => ({
    scenario: r.scenario,
    'loop delay p50 ms': r.p50Ms.toFixed(2),
    'loop delay p99 ms': r.p99Ms.toFixed(2),
    'loop delay max ms': r.maxMs.toFixed(2),
    'other request late p99 ms': r.otherRequestLateP99Ms.toFixed(2),
    'wall ms': r.wallMs.toFixed(0),
  })),
);
console.log(
  JSON.stringify({
    bench: 'tokenize_event_loop',
    promptKB: SIZE / 1024,
    rounds: ROUNDS,
    results,
    ratios: {
      inlineVsPoolLoopDelayP99: inline.p99Ms / pool.p99Ms,
      poolVsIdleLoopDelayP99: pool.p99Ms / idle.p99Ms,
    },
  }),
);
process.exit(0);
