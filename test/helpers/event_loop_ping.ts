// How long a dataplane's event loop is held, seen from outside: a separate process pings /healthz
// every 20 ms (the test process itself is busy sending large bodies, so its own timers would lie).
import { spawn } from 'node:child_process';
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
