// The measured scenarios for one running target: closed-loop throughput (wrk) with CPU per request and
// peak RSS of the target's process tree, and open-loop fixed-rate latency (+ time to first token).
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import type { FixedRateOptions, FixedRateResult } from './load/fixed_rate.ts';
import { runWrk } from './load/wrk.ts';
import { CLIENT_CORE, coreBusySampler, rssSampler, treeCpuMs } from './procs.ts';
import { round, type Summary, summarize } from './stats.ts';
import type { RunningTarget } from './targets.ts';

export interface ThroughputRun {
  validPerSec: number;
  /** ms of gateway CPU (utime+stime, whole tree) per valid response; undefined for direct */
  cpuMsPerReq: number | undefined;
  p50Ms: number;
  p99Ms: number;
  rssPeakMiB: number | undefined;
  valid: number;
  invalid: number;
  socketErrors: number;
  /** the gateway's CPU over the run's wall time (1 = its pinned core never waited); undefined for direct */
  gatewayBusy?: number | undefined;
  /** how busy the client core (wrk, the mock, Redis) was: near 1 with a gateway below 1, the harness bounds the round */
  clientCoreBusy?: number | undefined;
}

export interface ThroughputResult {
  stream: boolean;
  connections: number;
  seconds: number;
  reqPerSec: Summary;
  cpuMsPerReq: Summary | undefined;
  p50Ms: Summary;
  p99Ms: Summary;
  rssPeakMiB: number | undefined;
  invalid: number;
  socketErrors: number;
  runs: ThroughputRun[];
}

export interface Timing {
  seconds: number;
  repeats: number;
  warmupScale: number;
  fixedRate: number;
  fixedSeconds: number;
}

/** The target's warm-up for one scenario (JIT, pools, connections), before its measured runs. */
export async function warmUp(
  t: RunningTarget,
  stream: boolean,
  connections: number,
  timing: Timing,
  tmpDir: string,
): Promise<void> {
  const warm = Math.max(1, Math.round(t.warmupSeconds * timing.warmupScale));
  await runWrk({
    url: t.endpoint.url,
    headers: t.endpoint.headers,
    stream,
    connections,
    tmpDir,
    seconds: warm,
  });
}

/** One measured closed-loop run: req/s, latency, and the target's CPU per request and peak RSS. */
export async function throughputRun(
  t: RunningTarget,
  stream: boolean,
  connections: number,
  timing: Timing,
  tmpDir: string,
): Promise<ThroughputRun> {
  const base = { url: t.endpoint.url, headers: t.endpoint.headers, stream, connections, tmpDir };
  const cpu0 = t.pid === undefined ? 0 : treeCpuMs(t.pid);
  const rss = t.pid === undefined ? undefined : rssSampler(t.pid);
  const client = coreBusySampler(CLIENT_CORE);
  const wall0 = performance.now();
  const r = await runWrk({ ...base, seconds: timing.seconds });
  const cpu1 = t.pid === undefined ? 0 : treeCpuMs(t.pid);
  const wallMs = performance.now() - wall0;
  const clientBusy = client();
  return {
    gatewayBusy: t.pid === undefined ? undefined : round((cpu1 - cpu0) / wallMs, 2),
    clientCoreBusy: clientBusy === undefined ? undefined : round(clientBusy, 2),
    validPerSec: r.validPerSec,
    cpuMsPerReq: t.pid === undefined || r.valid === 0 ? undefined : (cpu1 - cpu0) / r.valid,
    p50Ms: r.latencyMs.p50,
    p99Ms: r.latencyMs.p99,
    rssPeakMiB: rss?.stop(),
    valid: r.valid,
    invalid: r.invalid,
    socketErrors: r.socketErrors,
  };
}

export function summarizeThroughput(
  stream: boolean,
  connections: number,
  seconds: number,
  runs: ThroughputRun[],
): ThroughputResult {
  const cpu = runs.map((r) => r.cpuMsPerReq).filter((x): x is number => x !== undefined);
  const rssPeaks = runs.map((r) => r.rssPeakMiB).filter((x): x is number => x !== undefined);
  return {
    stream,
    connections,
    seconds,
    reqPerSec: summarize(runs.map((r) => r.validPerSec)),
    cpuMsPerReq: cpu.length ? summarize(cpu) : undefined,
    p50Ms: summarize(runs.map((r) => r.p50Ms)),
    p99Ms: summarize(runs.map((r) => r.p99Ms)),
    rssPeakMiB: rssPeaks.length ? round(Math.max(...rssPeaks), 1) : undefined,
    invalid: runs.reduce((s, r) => s + r.invalid, 0),
    socketErrors: runs.reduce((s, r) => s + r.socketErrors, 0),
    runs,
  };
}

export function fixedRateProcess(opts: FixedRateOptions): Promise<FixedRateResult> {
  const script = join(import.meta.dirname, 'load', 'fixed_rate.ts');
  return new Promise((resolve, reject) => {
    execFile(
      'taskset',
      ['-c', CLIENT_CORE, process.execPath, script, JSON.stringify(opts)],
      { maxBuffer: 1 << 20, timeout: (opts.seconds + opts.warmupSeconds + 60) * 1000 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`fixed-rate client failed: ${err.message}\n${stderr}`));
        else resolve(JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as FixedRateResult);
      },
    );
  });
}

export interface FixedRateSummary {
  stream: boolean;
  rate: number;
  seconds: number;
  p50Ms: Summary;
  p99Ms: Summary;
  ttftP50Ms: Summary | undefined;
  ttftP99Ms: Summary | undefined;
  achievedRate: Summary;
  invalid: number;
  errors: number;
  maxSendLagMs: number;
  runs: FixedRateResult[];
}

export async function fixedRate(
  t: RunningTarget,
  stream: boolean,
  timing: Timing,
): Promise<FixedRateSummary> {
  const runs: FixedRateResult[] = [];
  for (let i = 0; i < timing.repeats; i++) {
    runs.push(
      await fixedRateProcess({
        url: t.endpoint.url,
        headers: t.endpoint.headers,
        stream,
        rate: timing.fixedRate,
        seconds: timing.fixedSeconds,
        warmupSeconds: Math.max(1, Math.round(t.warmupSeconds * timing.warmupScale)),
        connections: 64,
      }),
    );
  }
  return {
    stream,
    rate: timing.fixedRate,
    seconds: timing.fixedSeconds,
    p50Ms: summarize(runs.map((r) => r.latencyMs.p50)),
    p99Ms: summarize(runs.map((r) => r.latencyMs.p99)),
    ttftP50Ms: stream ? summarize(runs.map((r) => r.ttftMs?.p50 ?? Number.NaN)) : undefined,
    ttftP99Ms: stream ? summarize(runs.map((r) => r.ttftMs?.p99 ?? Number.NaN)) : undefined,
    achievedRate: summarize(runs.map((r) => r.achievedRate)),
    invalid: runs.reduce((s, r) => s + r.invalid, 0),
    errors: runs.reduce((s, r) => s + r.errors, 0),
    maxSendLagMs: Math.max(...runs.map((r) => r.maxSendLagMs)),
    runs,
  };
}
