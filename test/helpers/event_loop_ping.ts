// How much a dataplane process works and how long its event loop is held, seen from outside: its
// CPU time from /proc, and the latency of /healthz pinged every 20 ms from a separate process (the
// test process itself is busy sending large bodies, so its own timers would lie).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { NODE_BIN } from './dataplane.ts';

/** Starts pinging `url`/healthz; stop() resolves with the slowest answer in ms (the first, which
 * includes connecting, is not counted). */
export function startPinger(url: string): { stop: () => Promise<number> } {
  const script = `
    let worst = 0, running = true, n = 0;
    process.on('SIGTERM', () => { running = false; });
    (async () => {
      while (running) {
        const t0 = performance.now();
        await fetch(${JSON.stringify(`${url}/healthz`)}).then((r) => r.text());
        if (n++ > 0) worst = Math.max(worst, performance.now() - t0);
        await new Promise((r) => setTimeout(r, 20));
      }
      process.stdout.write(String(worst));
    })();`;
  const child = spawn(NODE_BIN, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
      return Number(out);
    },
  };
}

/** CPU time (user + system) the process has used, in ms. */
export function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in clock ticks (USER_HZ 100)
}
