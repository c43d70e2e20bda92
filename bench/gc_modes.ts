// Is every start of Sluice as fast as the others? `node bench/gc_modes.ts [--starts 8] [--windows 2]
// [--flags=...]`. Starts bare Sluice (dist, the shipped flags plus --flags) again and again under the
// bench's closed loop (c=50, pinned as in the bench), and for each start prints req/s, CPU and the
// bytes promoted per request in a few windows after the warm-up, read from the allocation probe
// (bench/alloc_probe.ts). Until December 2026 about one start in three promoted ~4.5 KiB per request
// instead of ~0.2 and spent ~1.9x the CPU for its whole life: V8's allocation-site pretenuring had
// decided to allocate a site of per-request objects in the old generation (docs/benchmarks.md,
// "Issue 16, session 12"). A start counts as slow above 2 KiB promoted per request.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ALLOC_CONFIGS, type AllocConfig, startProbed } from './alloc_measure.ts';
import { runWrk } from './load/wrk.ts';
import { CLIENT_CORE, pinSelf, startMock, treeCpuMs } from './procs.ts';
import { REPO } from './targets.ts';

const SLOW_PROMOTED_BYTES = 2048;

interface Alloc {
  allocated: number;
  promoted: number;
  markCompacts: number;
}

/** Bare Sluice as the bench runs it (access log and metrics on, open access): the shipped-defaults row. */
const SHIPPED_ROW = ALLOC_CONFIGS.find(
  (c) => !c.stream && c.name.includes('shipped defaults'),
) as AllocConfig;

async function oneStart(
  mockPort: number,
  tmpDir: string,
  flags: string[],
  windows: number,
): Promise<boolean> {
  const run = {
    mockPort,
    tmpDir,
    redisPort: undefined,
    otlpUrl: undefined,
    count: 0,
    warmup: 0,
    extraFlags: flags,
  };
  const { t, probe } = await startProbed(SHIPPED_ROW, run);
  try {
    const alloc = () => probe('GET', '/alloc') as Promise<Alloc>;
    const base = { url: t.endpoint.url, headers: t.endpoint.headers, stream: false, connections: 50, tmpDir };
    await runWrk({ ...base, seconds: 4 });
    let slow = false;
    const parts: string[] = [];
    for (let w = 0; w < windows; w++) {
      const a0 = await alloc();
      const cpu0 = treeCpuMs(t.pid as number);
      const r = await runWrk({ ...base, seconds: 3 });
      const a1 = await alloc();
      const promoted = (a1.promoted - a0.promoted) / r.valid;
      slow ||= promoted > SLOW_PROMOTED_BYTES;
      parts.push(
        `${Math.round(r.validPerSec)} req/s, ${(((treeCpuMs(t.pid as number) - cpu0) * 1000) / r.valid).toFixed(1)} µs CPU, ` +
          `${(promoted / 1024).toFixed(2)} KiB promoted, ${a1.markCompacts - a0.markCompacts} mark-compacts`,
      );
    }
    process.stdout.write(`${slow ? 'SLOW' : 'fast'}  ${parts.join(' | ')}\n`);
    return slow;
  } finally {
    await t.stop();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      starts: { type: 'string', default: '8' },
      windows: { type: 'string', default: '2' },
      flags: { type: 'string', multiple: true, default: [] },
    },
  });
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: REPO, stdio: ['ignore', 'ignore', 'inherit'] });
  pinSelf(CLIENT_CORE);
  const tmpDir = join(REPO, 'bench', 'results', 'tmp');
  mkdirSync(tmpDir, { recursive: true });
  const flags = (values.flags as string[]).flatMap((f) => f.split(' ').filter(Boolean));
  const { port: mockPort, proc: mock } = await startMock(tmpDir);
  let slow = 0;
  const starts = Number(values.starts);
  try {
    for (let i = 0; i < starts; i++)
      if (await oneStart(mockPort, tmpDir, flags, Number(values.windows))) slow++;
  } finally {
    await mock.stop();
  }
  process.stdout.write(
    `${slow} of ${starts} starts slow${flags.length ? ` (with ${flags.join(' ')})` : ''}\n`,
  );
}

if (import.meta.main) await main();
