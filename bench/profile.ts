// Profile Sluice under the bench load: `node bench/profile.ts [--stream] [--full|--floor] [--seconds 15]`.
// Starts the mock and Sluice with --cpu-prof (pinned as in the bench), drives wrk at it, stops Sluice
// so V8 writes the profile, then prints the top frames by self time and by inclusive time for our own
// code. The .cpuprofile stays in bench/results/tmp/profiles/ for a flame-graph viewer (Chrome DevTools,
// speedscope).
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runWrk } from './load/wrk.ts';
import { CLIENT_CORE, freePort, pinSelf, startMock, startPinned, treeCpuMs, waitForPort } from './procs.ts';
import { floor, REPO, sluiceBare, sluiceFull } from './targets.ts';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** The samples taken at least `skipMs` after the profile started (drops start-up and warm-up). */
function samplesAfter(p: CpuProfile, skipMs: number): number[] {
  const out: number[] = [];
  let t = 0;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i] ?? 0;
    if (t / 1000 >= skipMs) out.push(p.samples[i] as number);
  }
  return out;
}

export interface FrameCost {
  frame: string;
  selfPct: number;
  totalPct: number;
}

function frameName(n: ProfileNode): string {
  const f = n.callFrame;
  const url = f.url.replace(`file://${REPO}/`, '').replace(/^.*node_modules\//, 'nm:');
  return `${f.functionName || '(anonymous)'} ${url ? `${url}:${f.lineNumber + 1}` : ''}`.trim();
}

/**
 * Self and inclusive share of the busy samples per frame (idle samples left out, so the shares add up
 * to the CPU the gateway spent; a frame recursing on itself counts once per sample).
 */
export function summarizeProfile(p: CpuProfile, skipMs = 0): FrameCost[] {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let busy = 0;
  for (const id of samplesAfter(p, skipMs)) {
    const node = byId.get(id);
    if (!node) continue;
    const name = frameName(node);
    if (name === '(idle)') continue;
    busy++;
    self.set(name, (self.get(name) ?? 0) + 1);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur);
      if (!n) break;
      const nm = frameName(n);
      if (seen.has(nm)) continue;
      seen.add(nm);
      total.set(nm, (total.get(nm) ?? 0) + 1);
    }
  }
  const all = busy || 1;
  return [...total.keys()].map((frame) => ({
    frame,
    selfPct: ((self.get(frame) ?? 0) * 100) / all,
    totalPct: ((total.get(frame) ?? 0) * 100) / all,
  }));
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      stream: { type: 'boolean', default: false },
      full: { type: 'boolean', default: false },
      floor: { type: 'boolean', default: false },
      seconds: { type: 'string', default: '15' },
      connections: { type: 'string', default: '50' },
      top: { type: 'string', default: '40' },
    },
  });
  pinSelf(CLIENT_CORE);
  const tmpDir = join(REPO, 'bench', 'results', 'tmp');
  const profDir = join(tmpDir, 'profiles');
  rmSync(profDir, { recursive: true, force: true });
  mkdirSync(profDir, { recursive: true });
  const { port: mockPort, proc: mock } = await startMock(tmpDir);
  let redis: ReturnType<typeof startPinned> | undefined;
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
    const spec = values.floor ? floor : values.full ? sluiceFull : sluiceBare;
    const spawnedAt = performance.now();
    const t = await spec.start({
      mockPort,
      tmpDir,
      redisPort,
      sluiceExtraFlags: ['--cpu-prof', `--cpu-prof-dir=${profDir}`],
    });
    const stream = values.stream === true;
    const base = {
      url: t.endpoint.url,
      headers: t.endpoint.headers,
      stream,
      connections: Number(values.connections),
      tmpDir,
    };
    await runWrk({ ...base, seconds: 5 });
    const skipMs = performance.now() - spawnedAt;
    const cpu0 = treeCpuMs(t.pid as number);
    const r = await runWrk({ ...base, seconds: Number(values.seconds) });
    const cpuMs = treeCpuMs(t.pid as number) - cpu0;
    await t.stop();
    process.stdout.write(
      `${spec.name} ${stream ? 'stream' : 'non-stream'} x${values.connections}: ${Math.round(r.validPerSec)} valid req/s, ${(cpuMs / r.valid).toFixed(4)} ms CPU per request (profiler on: slower than real), ${r.invalid} invalid\n`,
    );
    const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error('no .cpuprofile written');
    const costs = summarizeProfile(
      JSON.parse(readFileSync(join(profDir, file), 'utf8')) as CpuProfile,
      skipMs,
    );
    const top = Number(values.top);
    process.stdout.write(
      `\nprofile: ${join(profDir, file)} (first ${Math.round(skipMs)} ms of start-up and warm-up left out; shares of busy samples)\n\nTop by self time:\n`,
    );
    for (const c of [...costs].sort((a, b) => b.selfPct - a.selfPct).slice(0, top))
      process.stdout.write(
        `${c.selfPct.toFixed(1).padStart(5)}% self ${c.totalPct.toFixed(1).padStart(5)}% total  ${c.frame}\n`,
      );
    process.stdout.write('\nOur code by inclusive time:\n');
    for (const c of [...costs]
      .filter((c) => /(dataplane|cli)\//.test(c.frame) && !c.frame.startsWith('nm:'))
      .sort((a, b) => b.totalPct - a.totalPct)
      .slice(0, top))
      process.stdout.write(
        `${c.totalPct.toFixed(1).padStart(5)}% total ${c.selfPct.toFixed(1).padStart(5)}% self  ${c.frame}\n`,
      );
  } finally {
    await redis?.stop();
    await mock.stop();
  }
}

if (import.meta.main) await main();
