// A rolling restart of one of two replicas behind a client that balances the way a Kubernetes Service
// does: over the ready endpoints. Replica 1 gets SIGTERM mid-traffic; like kube-proxy, the client drops
// it from its endpoints shortly after (well within drainDelayMs), while the replica keeps serving what
// still arrives (with connection: close), finishes its in-flight streams and exits 0. It is started
// again on the same port and rejoins the endpoints once it listens. No request fails.
//
// Why endpoints and not "send until refused": a connection the kernel accepted in the instant the
// listener closes is reset by the kernel, whatever the server does. Kubernetes avoids that race by
// removing a terminating pod from its endpoints while the pod still serves (drainDelayMs is that
// window); a client that ignores endpoints would be testing the race, not the gateway.
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

/** An error with its causes' codes, so a failure says what broke (reset, refused, timeout...). */
function describeError(err: unknown): string {
  const parts = [String(err)];
  for (let e = (err as { cause?: unknown }).cause; e; e = (e as { cause?: unknown }).cause)
    parts.push(`${(e as { code?: string }).code ?? ''} ${String(e)}`.trim());
  return parts.join(' <- ');
}

describe('rolling restart', () => {
  it('loses no request while one of two replicas restarts', async () => {
    const clients = ports.map(
      (p) => new OpenAI({ baseURL: `http://127.0.0.1:${p}/v1`, apiKey: 'x', maxRetries: 0 }),
    );
    let next = 0;
    let stop = false;
    const endpoints = [0, 1];
    const served = [0, 0];
    const inflight = [0, 0];
    const failures: unknown[] = [];
    const one = async (stream: boolean) => {
      for (let tries = 0; tries < 2; tries++) {
        const i = endpoints[next++ % endpoints.length] as number;
        const client = clients[i] as OpenAI;
        inflight[i] = (inflight[i] ?? 0) + 1;
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
          served[i] = (served[i] ?? 0) + 1;
          return;
        } catch (err) {
          if (connectFailed(err)) {
            continue; // never sent: picked just before the endpoint went away; try the other one
          }
          failures.push(err);
          return;
        } finally {
          inflight[i] = (inflight[i] ?? 0) - 1;
        }
      }
    };
    const worker = async (stream: boolean) => {
      while (!stop) await one(stream);
    };
    const workers = [worker(true), worker(true), worker(false), worker(false)];
    await new Promise((r) => setTimeout(r, 500));
    const old = replicas[0] as DataplaneProcess;
    const servedBefore = served[0] as number;
    const inflightAtSigterm = inflight[0] as number;
    const exit = old.stop('SIGTERM');
    // kube-proxy drops the terminating pod from the endpoints a little later; it still serves meanwhile
    await new Promise((r) => setTimeout(r, 150));
    endpoints.splice(endpoints.indexOf(0), 1);
    const servedWhileDraining = (served[0] as number) - servedBefore;
    expect(await exit).toBe(0);
    replicas[0] = await start(0);
    endpoints.push(0); // ready again
    const servedBeforeRejoin = served[0] as number;
    await new Promise((r) => setTimeout(r, 500));
    stop = true;
    await Promise.all(workers);
    expect(failures.map(describeError)).toEqual([]);
    expect(served[1]).toBeGreaterThan(20);
    // the draining replica finished what it had (streams of ~300 ms were in flight) and what arrived
    // before it left the endpoints
    expect(inflightAtSigterm).toBeGreaterThan(0);
    expect(servedWhileDraining).toBeGreaterThan(0);
    // the restarted replica serves again, through the balancer and directly
    expect(served[0] as number).toBeGreaterThan(servedBeforeRejoin);
    const again = await clients[0]?.chat.completions.create({
      model: 'm',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(again?.choices[0]?.finish_reason).toBe('stop');
  });
});
