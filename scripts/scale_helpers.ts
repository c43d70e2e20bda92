// Helpers of scripts/scale_operator.ts: percentiles, ports, /proc and /metrics readings, the image-like
// build of the operator, its heap snapshot, and writing the figures into docs/operator.md.
import { type ChildProcess, execFileSync } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { REPO_ROOT } from '../test/helpers/dataplane.ts';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? Number.NaN);
};

export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** In batches: the API server (and this machine) handle a few dozen concurrent writes well. */
export async function inBatches<T>(items: T[], size: number, fn: (x: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

/** The image's layout: dist/ from `npm run build`, beside package.json and node_modules. */
export function buildLikeTheImage(work: string): string {
  const app = join(work, 'app');
  mkdirSync(app);
  execFileSync(
    join(REPO_ROOT, 'node_modules/.bin/tsc'),
    ['-p', 'tsconfig.build.json', '--outDir', join(app, 'dist')],
    {
      cwd: REPO_ROOT,
      stdio: 'inherit',
    },
  );
  copyFileSync(join(REPO_ROOT, 'package.json'), join(app, 'package.json'));
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(app, 'node_modules'));
  return join(app, 'dist/cli/main.js');
}

/** Resident memory (MiB) and CPU seconds (user + system) of a process, from /proc. */
export function procStats(pid: number): { rssMiB: number; cpuSeconds: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  const ticks = Number(fields[11] ?? 0) + Number(fields[12] ?? 0); // utime, stime
  return { rssMiB: rssKiB / 1024, cpuSeconds: ticks / 100 };
}

/** The sum of a metric's series, or of those whose labels contain `labels` (e.g. controller="render"). */
export async function metric(port: number, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$/.exec(line);
    if (m?.[1] === name && (m[2] ?? '').includes(labels)) sum += Number(m[3]);
  }
  return sum;
}

/** How long each "config reloaded" took (ms), from a replica's JSON log lines. */
export function reloadTimes(logs: readonly string[]): number[] {
  const out: number[] = [];
  for (const chunk of logs)
    for (const line of chunk.split('\n')) {
      if (!line.includes('"config reloaded"')) continue;
      const ms = (JSON.parse(line) as { ms?: unknown }).ms;
      if (typeof ms === 'number') out.push(ms);
    }
  return out;
}

/** Ask the operator for a heap snapshot (--heapsnapshot-signal) and wait until it is written. */
export async function heapSnapshot(child: ChildProcess, dir: string): Promise<string> {
  const before = new Set(readdirSync(dir));
  child.kill('SIGUSR2');
  let last = -1;
  for (let i = 0; i < 120; i++) {
    await sleep(1_000);
    const file = readdirSync(dir).find((f) => f.endsWith('.heapsnapshot') && !before.has(f));
    const size = file ? statSync(join(dir, file)).size : -1;
    if (file && size > 0 && size === last) return join(dir, file);
    last = size;
  }
  throw new Error('no heap snapshot within 2 minutes');
}

export function writeDocs(r: Record<string, unknown>): void {
  const file = join(REPO_ROOT, 'docs/operator.md');
  const text = readFileSync(file, 'utf8');
  const begin = '<!-- scale:operator:begin -->';
  const end = '<!-- scale:operator:end -->';
  const i = text.indexOf(begin);
  const j = text.indexOf(end);
  if (i < 0 || j < i) throw new Error(`docs/operator.md has no ${begin} ... ${end} section`);
  const block = `${begin}\n\`\`\`json\n${JSON.stringify(r, null, 2)}\n\`\`\`\n`;
  writeFileSync(file, text.slice(0, i) + block + text.slice(j));
  console.error('figures written to docs/operator.md');
}
