// A rolling restart of one of two replicas behind a simple round-robin client: replica 1 gets SIGTERM
// mid-traffic, drains (serving with connection: close for drainDelayMs, then finishing in-flight
// streams) and exits 0, and is started again on the same port. A connection the client cannot open
// (the replica is down) moves to the other replica, as a Service would; no request that was sent fails.
import { createServer } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  configDir,
  type DataplaneProcess,
  spawnDataplane,
  type TestConfigDir,
} from '../helpers/dataplane.ts';

let cfg: TestConfigDir;
const ports: number[] = [];
const replicas: DataplaneProcess[] = [];

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function start(i: number): Promise<DataplaneProcess> {
  return spawnDataplane(cfg.file, {}, 20_000, ports[i]);
}

beforeAll(async () => {
  cfg = configDir({
    server: { drainDelayMs: 600, drainTimeoutMs: 10_000 },
    providers: [{ name: 'mock', type: 'mock', mock: { outputTokens: 20, chunkDelayMs: 15, latencyMs: 5 } }],
    routes: [{ name: 'r', backends: [{ provider: 'mock' }] }],
  });
  ports.push(await freePort(), await freePort());
  replicas.push(await start(0), await start(1));
});

afterAll(async () => {
  for (const r of replicas) await r.stop('SIGKILL');
  cfg?.cleanup();
});

/** The connection could not be opened (nothing listens): the request was never sent. */
function connectFailed(err: unknown): boolean {
  if (!(err instanceof OpenAI.APIConnectionError)) return false;
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) {
    if ((e as { code?: string }).code === 'ECONNREFUSED') return true;
  }
  return false;
}

describe('rolling restart', () => {
  it('loses no request while one of two replicas restarts', async () => {
    const clients = ports.map(
      (p) => new OpenAI({ baseURL: `http://127.0.0.1:${p}/v1`, apiKey: 'x', maxRetries: 0 }),
    );
    let next = 0;
    let stop = false;
    let ok = 0;
    let redirected = 0;
    const failures: unknown[] = [];
    const one = async (stream: boolean) => {
      for (let tries = 0; tries < 2; tries++) {
        const client = clients[next++ % clients.length] as OpenAI;
        try {
          if (stream) {
            const s = await client.chat.completions.create({
              model: 'm',
              messages: [{ role: 'user', content: 'hi' }],
              stream: true,
            });
            let finish: string | null | undefined;
            for await (const c of s) finish = c.choices[0]?.finish_reason ?? finish;
            if (finish !== 'stop') throw new Error(`stream ended with ${finish}`);
          } else {
            const r = await client.chat.completions.create({
              model: 'm',
              messages: [{ role: 'user', content: 'hi' }],
            });
            if (r.choices[0]?.finish_reason !== 'stop') throw new Error('bad answer');
          }
          ok++;
          return;
        } catch (err) {
          if (connectFailed(err)) {
            redirected++;
            continue; // never sent: the replica is not listening; try the other one
          }
          failures.push(err);
          return;
        }
      }
    };
    const worker = async (stream: boolean) => {
      while (!stop) await one(stream);
    };
    const workers = [worker(true), worker(true), worker(false), worker(false)];
    await new Promise((r) => setTimeout(r, 500));
    const old = replicas[0] as DataplaneProcess;
    const exit = old.stop('SIGTERM');
    expect(await exit).toBe(0);
    replicas[0] = await start(0);
    await new Promise((r) => setTimeout(r, 500));
    stop = true;
    await Promise.all(workers);
    expect(failures.map(String)).toEqual([]);
    expect(ok).toBeGreaterThan(40);
    // the restarted replica serves again
    const again = await clients[0]?.chat.completions.create({
      model: 'm',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(again?.choices[0]?.finish_reason).toBe('stop');
    // the replica really was down for a while: some connections were refused and went to the other one
    expect(redirected).toBeGreaterThan(0);
  });
});
