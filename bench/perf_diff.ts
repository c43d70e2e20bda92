// Where Sluice's CPU per request goes beyond the floor's, by the kernel's own accounting:
// `node bench/perf_diff.ts [--stream] [--seconds 6] [--rounds 2] [--top 30] [--full]`. Needs Linux
// `perf` and leave to record another process (root, or kernel.perf_event_paranoid <= 1). `--full`
// compares the full policy stack on Redis with bare Sluice instead (what the stack costs).
//
// The floor and Sluice run alternately under the bench's closed loop while `perf record -e cpu-clock
// -g` samples the gateway. cpu-clock counts only time a thread is on the CPU, so a thread that waits
// for the core (V8's workers and the event loop share one pinned core) is not charged for the other's
// work; V8's --cpu-prof samples by wall clock and charges such waits to whatever frame the event loop
// stopped in (mostly `writev`, see docs/benchmarks.md). The report is µs per request: per thread and
// binary (kernel, node, JIT code, libc), the symbols whose cost differs most, and for the first few of
// those the JavaScript frame each was called from.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runWrk } from './load/wrk.ts';
import { CLIENT_CORE, pinSelf, startMock, startRedis, treeCpuMs } from './procs.ts';
import { floor, REPO, sluiceBare, sluiceFull, type TargetSpec } from './targets.ts';

interface Sample {
  thread: string;
  /** innermost first: `dso\tsymbol` */
  frames: string[];
}

/** `perf script -F comm,ip,sym,dso` output: a header line per sample, then one line per frame. */
function parsePerfScript(text: string): Sample[] {
  const out: Sample[] = [];
  let cur: Sample | undefined;
  for (const line of text.split('\n')) {
    if (line.trim() === '') {
      cur = undefined;
      continue;
    }
    if (!/^\s/.test(line)) {
      cur = { thread: line.trim().split(/\s+/)[0] as string, frames: [] };
      out.push(cur);
      continue;
    }
    // "\t    7f12ab symbol+0x1f (/path/to/dso)"
    const m = /^\s*[0-9a-f]+\s+(.*?)(?:\+0x[0-9a-f]+)?\s+\((.*)\)\s*$/.exec(line);
    if (cur && m) {
      const dso = (m[2] as string).replace(/^.*\//, '').replace(/^perf-\d+\.map$/, 'JIT');
      cur.frames.push(`${dso}\t${(m[1] as string).replace(`file://${REPO}/`, '')}`);
    }
  }
  return out;
}

interface Profile {
  usPerRequest: number;
  samples: Sample[];
}

function tally(p: Profile, key: (s: Sample) => string | string[] | undefined): Map<string, number> {
  const m = new Map<string, number>();
  const each = p.usPerRequest / Math.max(1, p.samples.length);
  for (const s of p.samples) {
    const k = key(s);
    if (k === undefined) continue;
    for (const one of typeof k === 'string' ? [k] : k) m.set(one, (m.get(one) ?? 0) + each);
  }
  return m;
}

/** The distinct JavaScript functions on a sample's stack, named without their tier (`*`, `+`, `~`). */
function jsFrames(s: Sample): string[] {
  const names = new Set<string>();
  for (const f of s.frames) {
    if (!f.startsWith('JIT\t')) continue;
    const m = /^JIT\tJS:[*+~^]?'?(.*?)(:\d+)?$/.exec(f);
    if (m) names.add(`JIT\t${m[1]}`);
  }
  return [...names];
}

function mean(maps: Map<string, number>[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of maps) for (const [k, v] of m) out.set(k, (out.get(k) ?? 0) + v / maps.length);
  return out;
}

async function record(spec: TargetSpec, mockPort: number, tmpDir: string, o: Options): Promise<Profile> {
  const t = await spec.start({
    mockPort,
    tmpDir,
    ...(o.redisPort ? { redisPort: o.redisPort } : {}),
    useDist: true,
    sluiceExtraFlags: ['--perf-basic-prof-only-functions'],
  });
  try {
    const base = {
      url: t.endpoint.url,
      headers: t.endpoint.headers,
      stream: o.stream,
      connections: 50,
      tmpDir,
    };
    await runWrk({ ...base, seconds: 4 });
    const data = join(tmpDir, `perf-${spec.name}.data`);
    const rec = spawn(
      'taskset',
      [
        '-c',
        CLIENT_CORE,
        'perf',
        'record',
        '-q',
        '-e',
        'cpu-clock',
        '-F',
        '2999',
        '-g',
        '-p',
        String(t.pid),
        '-o',
        data,
      ],
      { stdio: 'inherit' },
    );
    const cpu0 = treeCpuMs(t.pid as number);
    const r = await runWrk({ ...base, seconds: o.seconds });
    const cpuMs = treeCpuMs(t.pid as number) - cpu0;
    rec.kill('SIGINT');
    await new Promise((res) => rec.once('exit', res));
    const text = execFileSync('perf', ['script', '-i', data, '-F', 'comm,ip,sym,dso'], {
      encoding: 'utf8',
      maxBuffer: 1 << 30,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const usPerRequest = (cpuMs * 1000) / r.valid;
    process.stderr.write(
      `${spec.name}: ${Math.round(r.validPerSec)} req/s, ${usPerRequest.toFixed(1)} µs CPU/req\n`,
    );
    return { usPerRequest, samples: parsePerfScript(text) };
  } finally {
    await t.stop();
  }
}

interface Options {
  stream: boolean;
  seconds: number;
  rounds: number;
  top: number;
  /** the full stack's Redis, when comparing it with bare Sluice */
  redisPort?: number;
}

function table(title: string, f: Map<string, number>, s: Map<string, number>, top: number): string {
  const keys = [...new Set([...f.keys(), ...s.keys()])];
  const rows = keys
    .map((k) => ({ k, f: f.get(k) ?? 0, s: s.get(k) ?? 0 }))
    .sort((a, b) => b.s - b.f - (a.s - a.f))
    .slice(0, top);
  const lines = rows.map(
    (r) =>
      `${(r.s - r.f).toFixed(2).padStart(7)} ${r.f.toFixed(2).padStart(7)} ${r.s.toFixed(2).padStart(7)}  ${r.k.replace('\t', '  ').slice(0, 120)}`,
  );
  return `\n${title} (µs per request: Sluice − floor, floor, Sluice)\n${lines.join('\n')}\n`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      stream: { type: 'boolean', default: false },
      seconds: { type: 'string', default: '6' },
      rounds: { type: 'string', default: '2' },
      top: { type: 'string', default: '30' },
      full: { type: 'boolean', default: false },
      inclusive: { type: 'boolean', default: false },
    },
  });
  const o: Options = {
    stream: values.stream === true,
    seconds: Number(values.seconds),
    rounds: Number(values.rounds),
    top: Number(values.top),
  };
  // Sluice as the image runs it (and as the bench measures it): the compiled dist/, built now
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: REPO, stdio: ['ignore', 'ignore', 'inherit'] });
  pinSelf(CLIENT_CORE);
  const tmpDir = join(REPO, 'bench', 'results', 'tmp');
  mkdirSync(tmpDir, { recursive: true });
  const { port: mockPort, proc: mock } = await startMock(tmpDir);
  const redis = values.full ? await startRedis(tmpDir) : undefined;
  if (redis) o.redisPort = redis.port;
  // "floor" is the baseline side of the report: bare Sluice when the full stack is measured
  const [baseline, measured] = redis ? [sluiceBare, sluiceFull] : [floor, sluiceBare];
  const runs: { floor: Profile[]; sluice: Profile[] } = { floor: [], sluice: [] };
  try {
    for (let i = 0; i < o.rounds; i++) {
      runs.floor.push(await record(baseline, mockPort, tmpDir, o));
      runs.sluice.push(await record(measured, mockPort, tmpDir, o));
    }
  } finally {
    await redis?.proc.stop();
    await mock.stop();
  }
  const both = (key: (s: Sample) => string | string[] | undefined) =>
    [mean(runs.floor.map((p) => tally(p, key))), mean(runs.sluice.map((p) => tally(p, key)))] as const;
  const byDso = both((s) => `${s.thread}\t${(s.frames[0] ?? '?\t').split('\t')[0]}`);
  const bySym = both((s) => (s.thread === 'MainThread' ? s.frames[0] : undefined));
  let report = table('Per thread and binary', byDso[0], byDso[1], 12);
  report += table('Main thread, innermost symbol', bySym[0], bySym[1], o.top);
  // the JavaScript frame that led to each of the symbols that grew most
  const grown = [...new Set([...bySym[1].keys()])]
    .sort(
      (a, b) =>
        (bySym[1].get(b) ?? 0) - (bySym[0].get(b) ?? 0) - ((bySym[1].get(a) ?? 0) - (bySym[0].get(a) ?? 0)),
    )
    .filter((k) => !k.startsWith('JIT'))
    .slice(0, 6);
  for (const sym of grown) {
    const callers = both((s) =>
      s.thread === 'MainThread' && s.frames[0] === sym
        ? (s.frames.find((f) => f.startsWith('JIT\t')) ?? 'no JavaScript frame')
        : undefined,
    );
    report += table(`Called from, for ${sym.replace('\t', ' ')}`, callers[0], callers[1], 6);
  }
  if (values.inclusive) {
    // every JavaScript function on a sample's stack is charged once (recursion counted once), so a
    // function's figure is all the main thread spent under it: which feature the gap sits in
    const inclusive = both((s) => (s.thread === 'MainThread' ? jsFrames(s) : undefined));
    report += table('Main thread, JavaScript functions inclusive', inclusive[0], inclusive[1], o.top);
  }
  process.stdout.write(
    `${redis ? 'bare Sluice ("floor") vs the full stack ("Sluice"); ' : ''}${o.stream ? 'stream' : 'non-stream'} x50, ${o.rounds} alternating rounds of ${o.seconds} s; floor ${runs.floor.map((p) => p.usPerRequest.toFixed(1)).join(', ')} µs/req, Sluice ${runs.sluice.map((p) => p.usPerRequest.toFixed(1)).join(', ')}\n${report}`,
  );
}

if (import.meta.main) await main();
