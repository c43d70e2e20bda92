// The tail-latency targets of issue 16, each a ratio or a difference against the floor (the minimal
// Fastify + undici passthrough) measured in the same run, so a busy or slow machine moves both sides
// alike: fixed-rate added p99 and time to first token, closed-loop p99 / req/s / CPU per request, the
// full policy stack against bare Sluice, RSS under load, and the allocation table (bench/alloc.ts).
import type { TargetCheck } from './report.ts';
import type { BenchResults, TargetResult } from './results.ts';
import { median } from './stats.ts';

const fmt = (x: number, d: number) =>
  x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

/** The closed-loop scenario the issue names (c=50), else the first one run. */
const CLOSED_LOOP_CONNECTIONS = 50;

export function floorTargets(r: BenchResults): TargetCheck[] {
  const by = (n: string) => r.targets.find((t) => t.name === n);
  const [floor, sluice, full] = ['floor', 'sluice', 'sluice-full'].map(by);
  const c = r.connections.includes(CLOSED_LOOP_CONNECTIONS)
    ? CLOSED_LOOP_CONNECTIONS
    : (r.connections[0] ?? CLOSED_LOOP_CONNECTIONS);
  const tp = (t: TargetResult | undefined, s: boolean) =>
    t?.throughput.find((x) => x.stream === s && x.connections === c);
  const fr = (t: TargetResult | undefined, s: boolean) => t?.fixedRate.find((x) => x.stream === s);
  const checks: TargetCheck[] = [];
  const add = (
    goal: string,
    v: number | undefined,
    ok: (v: number) => boolean,
    show: (v: number) => string,
  ) =>
    checks.push({
      goal,
      measured: v === undefined || !Number.isFinite(v) ? 'not measured' : show(v),
      met: v === undefined || !Number.isFinite(v) ? undefined : ok(v),
    });
  const diff = (a: number | undefined, b: number | undefined) =>
    a !== undefined && b !== undefined ? a - b : undefined;
  const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b ? a / b : undefined);
  const ms = (v: number) => `${v >= 0 ? '+' : ''}${fmt(v, 2)} ms`;
  const x = (v: number) => `${fmt(v, 2)}x`;
  // results files written before issue 16 (and the harness test's partial ones) may lack the timing
  const rate = (r.timing?.fixedRate ?? 1000).toLocaleString('en-US');

  for (const s of [false, true]) {
    const mode = s ? 'stream' : 'non-stream';
    add(
      `fixed ${rate} req/s: added p99 ≤ 1 ms over the floor (${mode})`,
      diff(fr(sluice, s)?.p99Ms.median, fr(floor, s)?.p99Ms.median),
      (v) => v <= 1,
      ms,
    );
  }
  add(
    `fixed ${rate} req/s: added time to first token p50 ≤ 0.3 ms over the floor (stream)`,
    diff(fr(sluice, true)?.ttftP50Ms?.median, fr(floor, true)?.ttftP50Ms?.median),
    (v) => v <= 0.3,
    ms,
  );
  for (const s of [false, true]) {
    const mode = `x${c} ${s ? 'stream' : 'non-stream'}`;
    add(
      `closed loop: p99 ≤ 1.5x the floor's (${mode})`,
      ratio(tp(sluice, s)?.p99Ms.median, tp(floor, s)?.p99Ms.median),
      (v) => v <= 1.5,
      x,
    );
    add(
      `closed loop: req/s ≥ 0.9 of the floor's (${mode})`,
      ratio(tp(sluice, s)?.reqPerSec.median, tp(floor, s)?.reqPerSec.median),
      (v) => v >= 0.9,
      (v) => fmt(v, 2),
    );
    add(
      `closed loop: CPU per request ≤ 1.3x the floor's (${mode})`,
      ratio(tp(sluice, s)?.cpuMsPerReq?.median, tp(floor, s)?.cpuMsPerReq?.median),
      (v) => v <= 1.3,
      x,
    );
  }
  for (const s of [false, true]) {
    // What bounds the full stack's rounds: its own CPU (per request, against bare Sluice's), or the
    // client core that Redis shares with wrk and the mock (a gateway left waiting while that core is
    // full measures the harness).
    const runs = tp(full, s)?.runs ?? [];
    const med = (xs: (number | undefined)[]) => {
      const v = xs.filter((x): x is number => x !== undefined);
      return v.length ? median(v) : undefined;
    };
    const cpu = ratio(tp(full, s)?.cpuMsPerReq?.median, tp(sluice, s)?.cpuMsPerReq?.median);
    const busy = med(runs.map((r) => r.gatewayBusy));
    const client = med(runs.map((r) => r.clientCoreBusy));
    const context = [
      cpu !== undefined ? `CPU per request ${x(cpu)} bare's` : '',
      busy !== undefined ? `gateway busy ${fmt(busy, 2)}` : '',
      client !== undefined ? `client core busy ${fmt(client, 2)}` : '',
    ].filter(Boolean);
    add(
      `full policy stack on Redis ≥ 0.7 of bare Sluice req/s (x${c} ${s ? 'stream' : 'non-stream'})`,
      ratio(tp(full, s)?.reqPerSec.median, tp(sluice, s)?.reqPerSec.median),
      (v) => v >= 0.7,
      (v) => `${fmt(v, 2)}${context.length ? ` (${context.join(', ')})` : ''}`,
    );
  }
  // every Sluice target that runs the shipped flags (V8's defaults are there to show what they cost)
  const rss = r.targets
    .filter((t) => t.name.startsWith('sluice') && t.name !== 'sluice-v8-defaults')
    .flatMap((t) => t.throughput)
    .map((t) => t.rssPeakMiB)
    .filter((v): v is number => v !== undefined);
  add(
    'RSS under load ≤ 200 MiB (peak, any Sluice scenario with the shipped flags)',
    rss.length ? Math.max(...rss) : undefined,
    (v) => v <= 200,
    (v) => `${fmt(v, 0)} MiB`,
  );
  const alloc = r.alloc ?? [];
  const shipped = (s: boolean) =>
    alloc.find((a) => a.stream === s && a.name.includes('shipped defaults'))?.bytesPerReq;
  const ns = shipped(false);
  const st = shipped(true);
  checks.push({
    goal: 'allocation per request measured per feature (bench/alloc.ts, table below)',
    measured:
      ns !== undefined && st !== undefined
        ? `${fmt(ns / 1024, 1)} / ${fmt(st / 1024, 1)} KiB (non-stream / stream, shipped defaults)`
        : 'not measured',
    met: alloc.length === 0 ? undefined : alloc.every((a) => !a.error && Number.isFinite(a.bytesPerReq)),
  });
  return checks;
}
