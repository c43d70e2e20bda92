// Per-request resources must not outlive their request: after thousands of mixed requests, the
// number of live timers is back near idle and the heap (after GC) has not grown with the count.
// (A total-timeout signal that lived for minutes per request once leaked exactly this way.)
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InProcessDataplane, startDataplane } from '../helpers/dataplane.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

let dp: InProcessDataplane;
let pool: Pool;

beforeAll(async () => {
  dp = await startDataplane({
    providers: [{ name: 'mock', type: 'mock', mock: { outputTokens: 8 } }],
    routes: [{ name: 'r', backends: [{ provider: 'mock' }] }],
  });
  pool = new Pool(dp.url, { connections: 8 });
});
afterAll(async () => {
  await pool?.close();
  await dp?.stop();
});

async function load(n: number): Promise<void> {
  await Promise.all(
    Array.from({ length: 8 }, async (_, w) => {
      for (let i = 0; i < n / 8; i++) {
        const res = await pool.request({
          path: '/v1/chat/completions',
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            model: 'm',
            stream: (i + w) % 2 === 0,
            messages: [{ role: 'user', content: 'hi' }],
          }),
        });
        await res.body.text();
        if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
      }
    }),
  );
}

const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

describe('per-request resources', () => {
  it('leave no timers or heap behind', async () => {
    await load(1000);
    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    const timersBefore = timers();
    await load(4000);
    await new Promise((r) => setTimeout(r, 50));
    gc();
    expect(timers() - timersBefore).toBeLessThan(20);
    const grownKb = (process.memoryUsage().heapUsed - heapBefore) / 1024;
    // measured: about 0 KB when clean, about 2 MB with the old per-request timeout signal
    expect(grownKb).toBeLessThan(1024);
  }, 60_000);
});
