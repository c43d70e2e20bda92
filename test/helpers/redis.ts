// A real `redis-server` for tests (Debian package; scripts/install-tools.sh installs it for CI, or
// `apt-get install -y redis-server`). Bound to 127.0.0.1 on a free port, no persistence, so a restart
// comes back empty like a crashed cache node. Only the PID this harness started is ever signalled.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
  /** the PID of the current redis-server process (it changes on restart) */
  pid(): number | undefined;
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

async function launch(port: number, extraArgs: string[], configFile?: string): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    [
      ...(configFile ? [configFile] : []),
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
    pid: () => current.pid,
    cli: (...args: string[]) =>
      execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { encoding: 'utf8' }),
  };
}

export interface RedisGroup {
  /** store.redis.url for this topology */
  url: string;
  servers: RedisServer[];
  stop(): Promise<void>;
}

/** A master plus one Sentinel monitoring it as "mymaster" (quorum 1). */
export async function startSentinel(): Promise<RedisGroup> {
  const master = await startRedis();
  const dir = mkdtempSync(join(tmpdir(), 'sluice-sentinel-'));
  const conf = join(dir, 'sentinel.conf');
  // Sentinel rewrites its config file, so it must be a private writable copy.
  writeFileSync(
    conf,
    `sentinel monitor mymaster 127.0.0.1 ${master.port} 1\nsentinel down-after-milliseconds mymaster 5000\n`,
  );
  const port = await freePort();
  const sentinel = await launch(port, ['--sentinel', '--dir', dir], conf);
  return {
    url: `redis-sentinel://127.0.0.1:${port}/mymaster`,
    servers: [master],
    async stop() {
      await waitExit(sentinel, 'SIGTERM');
      await master.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A Redis Cluster of `n` masters (no replicas) on free loopback ports, all 16384 slots assigned. */
export async function startCluster(n = 3): Promise<RedisGroup> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-cluster-'));
  const servers: RedisServer[] = [];
  for (let i = 0; i < n; i++) {
    servers.push(
      await startRedis([
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        join(dir, `nodes-${i}.conf`),
        '--cluster-node-timeout',
        '2000',
        '--dir',
        dir,
      ]),
    );
  }
  const addrs = servers.map((s) => `127.0.0.1:${s.port}`);
  execFileSync('redis-cli', ['--cluster', 'create', ...addrs, '--cluster-replicas', '0', '--cluster-yes'], {
    stdio: 'ignore',
  });
  // Every node must agree the cluster is up (all slots served) before a test may use it; on a loaded
  // machine gossip can take a while, and a half-formed cluster answers CLUSTERDOWN.
  for (let i = 0; ; i++) {
    if (servers.every((s) => s.cli('CLUSTER', 'INFO').includes('cluster_state:ok'))) break;
    if (i >= 300) throw new Error('redis cluster did not reach cluster_state:ok within 30 s');
    await sleep(100);
  }
  return {
    url: addrs.map((a) => `redis://${a}`).join(','),
    servers,
    async stop() {
      for (const s of servers) await s.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
