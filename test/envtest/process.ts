// Process, port and probe helpers for the envtest harness. Every process is
// tracked by the PID this module spawned; nothing here signals anything else.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';

/** A free TCP port on 127.0.0.1 (the OS picks it; we release it at once). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolvePort(port) : reject(new Error('no port'))));
    });
  });
}

/** Ports distinct from each other (the OS rarely repeats, but check). */
export async function freePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logPath: string;
  /** Resolves with the exit code (or signal) once the process is gone. */
  readonly exited: Promise<string>;
  hasExited(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it is gone. */
  stop(graceMs?: number): Promise<void>;
  logTail(lines?: number): string;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

// If the test process dies without calling stop(), do not leave orphans.
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

/** Spawns `bin args`, stdout+stderr appended to `logPath`. */
export function startProcess(name: string, bin: string, args: string[], logPath: string): ManagedProcess {
  installExitHook();
  const fd = openSync(logPath, 'a');
  let child: ChildProcess;
  try {
    child = spawn(bin, args, { stdio: ['ignore', fd, fd], env: { ...process.env } });
  } finally {
    closeSync(fd);
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error(`envtest: could not start ${name} (${bin})`);
  live.add(child);
  let done = false;
  const exited = new Promise<string>((resolveExit) => {
    child.once('exit', (code, signal) => {
      done = true;
      live.delete(child);
      resolveExit(signal ? `signal ${signal}` : `code ${code}`);
    });
    child.once('error', (err) => {
      done = true;
      live.delete(child);
      resolveExit(`error ${err.message}`);
    });
  });
  const logTail = (lines = 30): string => {
    try {
      return readFileSync(logPath, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  };
  const stop = async (graceMs = 10_000): Promise<void> => {
    if (done) return;
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((r) => {
      timer = setTimeout(() => r(true), graceMs);
    });
    const killed = await Promise.race([exited.then(() => false), timedOut]);
    clearTimeout(timer);
    if (killed && !done) {
      child.kill('SIGKILL');
      await exited;
    }
  };
  return { name, pid, logPath, exited, hasExited: () => done, stop, logTail };
}

/** GET https://127.0.0.1:port/path, TLS unverified (loopback health probes only). */
export function probe(
  port: number,
  path: string,
  token?: string,
  timeoutMs = 2_000,
): Promise<{ status: number; body: string }> {
  return new Promise((resolveProbe) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'GET',
        rejectUnauthorized: false,
        headers: token ? { authorization: `Bearer ${token}` } : {},
        timeout: timeoutMs,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolveProbe({ status: res.statusCode ?? 0, body }));
        res.on('error', () => resolveProbe({ status: 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolveProbe({ status: 0, body: err.message }));
    req.end();
  });
}

/**
 * Polls `check` every `intervalMs` until it returns true, `proc` exits, or
 * `timeoutMs` passes. Throws with the process's log tail on failure.
 */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  proc: ManagedProcess,
  timeoutMs: number,
  intervalMs = 250,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.hasExited()) {
      throw new Error(
        `envtest: ${proc.name} exited (${await proc.exited}) before ${what}:\n${proc.logTail()}`,
      );
    }
    if (await check()) return;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(
    `envtest: ${what} not reached within ${timeoutMs} ms; ${proc.name} log:\n${proc.logTail()}`,
  );
}

/** Runs `bin args` to completion, feeding `input` on stdin; never rejects on non-zero exit. */
export function run(
  bin: string,
  args: string[],
  input: string | undefined,
  timeoutMs: number,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
    });
    const timer = setTimeout(() => {
      stderr += `\n[envtest] killed after ${timeoutMs} ms`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolveRun({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
    child.stdin.on('error', () => {
      // the process may exit before reading its input; its exit code tells
    });
    child.stdin.end(input ?? '');
  });
}
