// A real `redis-server` for tests (Debian package; scripts/install-tools.sh installs it for CI, or
// `apt-get install -y redis-server`). Bound to 127.0.0.1 on a free port, no persistence, so a restart
// comes back empty like a crashed cache node. Only the PID this harness started is ever signalled.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface RedisServer {
  url: string;
  port: number;
  /** graceful stop (SIGTERM), waits for exit */
  stop(): Promise<void>;
  /** abrupt crash (SIGKILL), waits for exit: what an outage looks like to clients */
  kill(): Promise<void>;
  /** start again on the same port (empty: no persistence) */
  restart(): Promise<void>;
  /** freeze the server (SIGSTOP): connections stay open but nothing answers, like a stalled node */
  pause(): void;
  resume(): void;
  /** run a redis-cli command against this server and return its output */
  cli(...args: string[]): string;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function requireRedis(): void {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
  } catch {
    throw new Error(
      'redis-server is not installed: run `apt-get install -y redis-server` (scripts/install-tools.sh does it)',
    );
  }
}

async function launch(port: number, extraArgs: string[]): Promise<ChildProcess> {
  const child = spawn(
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
      '--daemonize',
      'no',
      '--loglevel',
      'warning',
      ...extraArgs,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  // Bounded wait: PING until it answers (50 x 100 ms).
  for (let i = 0; i < 50; i++) {
    if (child.exitCode !== null) throw new Error(`redis-server exited (${child.exitCode}): ${output}`);
    try {
      const pong = execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'PING'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      if (pong.trim() === 'PONG') return child;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  child.kill('SIGKILL');
  throw new Error(`redis-server on port ${port} did not answer PING in 5 s: ${output}`);
}

async function waitExit(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGCONT'); // a paused server cannot act on SIGTERM
  child.kill(signal);
  await exited;
}

export async function startRedis(extraArgs: string[] = []): Promise<RedisServer> {
  requireRedis();
  let port = 0;
  let child: ChildProcess | undefined;
  // Another process may grab the free port between probe and bind: try a few ports.
  for (let attempt = 0; attempt < 5 && !child; attempt++) {
    port = await freePort();
    try {
      child = await launch(port, extraArgs);
    } catch (err) {
      if (attempt === 4) throw err;
    }
  }
  let current = child as ChildProcess;
  // If a suite dies without stopping us, do not leave our redis-server behind (only our own PID).
  process.once('exit', () => {
    if (current.exitCode === null) current.kill('SIGKILL');
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop: () => waitExit(current, 'SIGTERM'),
    kill: () => waitExit(current, 'SIGKILL'),
    async restart() {
      await waitExit(current, 'SIGTERM');
      current = await launch(port, extraArgs);
    },
    pause: () => {
      current.kill('SIGSTOP');
    },
    resume: () => {
      current.kill('SIGCONT');
    },
    cli: (...args: string[]) =>
      execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { encoding: 'utf8' }),
  };
}
