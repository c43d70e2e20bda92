// Processes of the bench: start them pinned to a core (taskset), wait for their port, read the CPU time
// and memory of a whole process tree from /proc, and stop exactly the PIDs we started.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';

/** Core the gateway under test runs on; the mock, Redis and the load generators share the other one. */
export const GATEWAY_CORE = '0';
export const CLIENT_CORE = '1';

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

export function hasCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Pin this process (all its threads) to a core, so the orchestrator never competes with the gateway. */
export function pinSelf(core: string): void {
  execFileSync('taskset', ['-a', '-p', '-c', core, String(process.pid)], { stdio: 'ignore' });
}

export interface Started {
  name: string;
  child: ChildProcess;
  pid: number;
  logFile: string;
  stop(): Promise<void>;
}

/** Spawn `cmd args` pinned to `core`; stdout+stderr go to `logFile` (never through this process). */
export function startPinned(
  name: string,
  core: string,
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; logFile: string },
): Started {
  const fd = openSync(opts.logFile, 'w'); // one run per file: earlier runs' lines would only mislead
  const child = spawn('taskset', ['-c', core, cmd, ...args], {
    env: opts.env ?? process.env,
    cwd: opts.cwd,
    stdio: ['ignore', fd, fd],
    detached: true, // own process group, so stop() can end the whole tree it spawned and nothing else
  });
  if (child.pid === undefined) throw new Error(`${name}: failed to start ${cmd}`);
  const pid = child.pid;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    name,
    child,
    pid,
    logFile: opts.logFile,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(-pid, 'SIGTERM');
      } catch {
        return;
      }
      const t = setTimeout(() => {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }, 5_000);
      await exited;
      clearTimeout(t);
    },
  };
}

export async function waitForPort(port: number, timeoutMs: number, alive?: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (alive && !alive()) throw new Error(`process exited before port ${port} opened`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`port ${port} did not open within ${timeoutMs} ms`);
}

/** A free loopback port (bound then released; the caller binds it right away). */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** PIDs of `root` and all its descendants, from /proc/<pid>/stat parent links. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const stat = readStat(pid);
    if (!stat) continue;
    const list = children.get(stat.ppid) ?? [];
    list.push(pid);
    children.set(stat.ppid, list);
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length) {
    const pid = queue.shift() as number;
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

interface Stat {
  ppid: number;
  /** utime + stime in ms */
  cpuMs: number;
}

function readStat(pid: number): Stat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // comm may contain spaces and parentheses: fields start after the last ')'
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const ppid = Number(rest[1]);
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  return { ppid, cpuMs: ((utime + stime) * 1000) / CLK_TCK };
}

/** utime+stime of the whole tree in ms (threads are included in their process's counters). */
export function treeCpuMs(root: number): number {
  let sum = 0;
  for (const pid of processTree(root)) sum += readStat(pid)?.cpuMs ?? 0;
  return sum;
}

/** Resident set size of the whole tree in MiB (the `taskset`-exec'd root is the real process). */
export function treeRssMiB(root: number): number {
  let kib = 0;
  for (const pid of processTree(root)) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) kib += Number(m[1]);
    } catch {
      // exited meanwhile
    }
  }
  return kib / 1024;
}

/** Samples a tree's RSS every `everyMs` until stopped; returns the peak. */
export function rssSampler(root: number, everyMs = 250): { stop(): number } {
  let peak = treeRssMiB(root);
  const t = setInterval(() => {
    peak = Math.max(peak, treeRssMiB(root));
  }, everyMs);
  return {
    stop() {
      clearInterval(t);
      return Math.max(peak, treeRssMiB(root));
    },
  };
}

export function loadAverage(): [number, number, number] {
  const [a = 0, b = 0, c = 0] = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
  return [a, b, c];
}

/** Waits until `s` listens on `port`; else stops it and throws with the end of its log. */
export async function started(s: Started, port: number, timeoutMs: number): Promise<void> {
  try {
    await waitForPort(port, timeoutMs, () => s.child.exitCode === null);
  } catch (err) {
    const log = existsSync(s.logFile) ? readFileSync(s.logFile, 'utf8').slice(-2000) : '';
    await s.stop();
    throw new Error(`${s.name} did not start: ${(err as Error).message}\n${log}`);
  }
}

/**
 * The mock upstream (bench/mock_upstream.ts) on the client core, listening: `chunkGapMs` paces its
 * stream chunks (bench/alloc.ts). Its log is `<name>.log` in tmpDir.
 */
export async function startMock(
  tmpDir: string,
  opts: { name?: string; chunkGapMs?: number } = {},
): Promise<{ port: number; proc: Started }> {
  const name = opts.name ?? 'mock';
  const port = await freePort();
  const args = [join(import.meta.dirname, 'mock_upstream.ts'), String(port)];
  if (opts.chunkGapMs !== undefined) args.push(String(opts.chunkGapMs));
  const proc = startPinned(name, CLIENT_CORE, process.execPath, args, {
    logFile: join(tmpDir, `${name}.log`),
  });
  await started(proc, port, 10_000);
  return { port, proc };
}

/** A Redis for the full policy stack on the client core, without persistence. Its log is redis.log. */
export async function startRedis(tmpDir: string): Promise<{ port: number; proc: Started; version: string }> {
  const port = await freePort();
  const proc = startPinned(
    'redis',
    CLIENT_CORE,
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--protected-mode',
      'yes',
    ],
    { logFile: join(tmpDir, 'redis.log') },
  );
  await started(proc, port, 10_000);
  const version =
    execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).trim().split(' ')[2] ?? '';
  return { port, proc, version };
}

/** One core's busy and total jiffies so far (/proc/stat: everything but idle and iowait is busy). */
function coreJiffies(core: string): { busy: number; total: number } | undefined {
  const line = readFileSync('/proc/stat', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`cpu${core} `));
  if (!line) return undefined;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - (v[3] ?? 0) - (v[4] ?? 0), total };
}

/**
 * How busy one core is from now until the returned function is called (0..1): for the client core,
 * whether wrk, the mock and Redis left the gateway waiting (a round bounded by the harness, not it).
 */
export function coreBusySampler(core: string): () => number | undefined {
  const a = coreJiffies(core);
  return () => {
    const b = coreJiffies(core);
    if (!a || !b || b.total === a.total) return undefined;
    return (b.busy - a.busy) / (b.total - a.total);
  };
}
