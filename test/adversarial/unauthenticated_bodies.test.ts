// Issue 13 finding 4 (first half): no work before authentication. Large request bodies without valid
// credentials must get 401 without the body being buffered or parsed: the event loop stays free (a
// /healthz ping sent every 20 ms keeps answering fast) and the replica's RSS does not grow with them.
// Against a real `sluice serve` process with an API-key tenant.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  configDir,
  type DataplaneProcess,
  NODE_BIN,
  spawnDataplane,
  type TestConfigDir,
} from '../helpers/dataplane.ts';
import { sha256 } from '../policy/fixtures.ts';

const KEY = 'sk-adversarial-auth-0123456789';
let dp: DataplaneProcess;
let cfg: TestConfigDir;

beforeAll(async () => {
  cfg = configDir({
    providers: [{ name: 'mock', type: 'mock', mock: { outputTokens: 3 } }],
    routes: [{ name: 'r', match: { models: ['m'] }, backends: [{ provider: 'mock' }] }],
    namespaces: [{ name: 'team', match: { apiKeys: [{ name: 'k', sha256: sha256(KEY) }] } }],
  });
  dp = await spawnDataplane(cfg.file);
});

afterAll(async () => {
  await dp?.stop();
  cfg?.cleanup();
});

function rssMiB(pid: number): number {
  const kb = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)?.[1];
  return Number(kb ?? 0) / 1024;
}

/** ~9.5 MB of JSON that is costly to parse and validate: 150,000 small messages. */
function expensiveBody(): Buffer {
  const messages = Array.from({ length: 150_000 }, (_, i) => ({ role: 'user', content: `m${i} hello` }));
  const json = JSON.stringify({ model: 'm', messages, pad: 'p'.repeat(4_000_000) });
  return Buffer.from(json);
}

/**
 * Pings /healthz every 20 ms from a separate process (this one is busy sending the bodies) until
 * stopped; resolves with the slowest answer in ms.
 */
function pinger(url: string): { stop: () => Promise<number> } {
  const script = `
    let worst = 0, running = true, n = 0;
    process.on('SIGTERM', () => { running = false; });
    (async () => {
      while (running) {
        const t0 = performance.now();
        await fetch(${JSON.stringify(`${url}/healthz`)}).then((r) => r.text());
        if (n++ > 0) worst = Math.max(worst, performance.now() - t0); // the first includes connecting
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

async function post(body: Buffer, headers: Record<string, string>) {
  const res = await fetch(`${dp.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
  return { status: res.status, json: (await res.json()) as { error?: { code: string } } };
}

describe('unauthenticated large bodies', () => {
  it('get 401 without the body being parsed: pings stay fast and RSS flat', async () => {
    const body = expensiveBody();
    expect(body.length).toBeGreaterThan(9_000_000);
    expect(body.length).toBeLessThan(10 * 1024 * 1024);
    // warm up the 401 path and the ping path once
    const small = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
    expect((await post(Buffer.from(small), {})).status).toBe(401);
    const rssBefore = rssMiB(dp.child.pid as number);
    const ping = pinger(dp.url);
    await new Promise((r) => setTimeout(r, 300)); // the pinger's own start-up is not the dataplane's delay
    const bad: Array<Record<string, string>> = [
      {},
      { authorization: 'Bearer sk-wrong-key' },
      { 'x-api-key': 'nope' },
    ];
    for (let round = 0; round < 3; round++) {
      const answers = await Promise.all(bad.map((h) => post(body, h)));
      for (const a of answers) {
        expect(a.status).toBe(401);
        expect(a.json.error?.code).toBe('SLUICE_ERR_UNAUTHENTICATED');
      }
    }
    const worstPingMs = await ping.stop();
    const rssGrowth = rssMiB(dp.child.pid as number) - rssBefore;
    // Before the fix each body was parsed (hundreds of ms of event loop each) and held (~5x its
    // size in the heap). Generous bounds: the loop never blocked for long, memory hardly moved.
    expect(worstPingMs).toBeLessThan(250);
    expect(rssGrowth).toBeLessThan(40);
  });

  it('the same body with the right key is served (the body limit is not what refused it)', async () => {
    const body = Buffer.from(
      JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x'.repeat(2_000_000) }] }),
    );
    const ok = await post(body, { authorization: `Bearer ${KEY}` });
    expect(ok.status).toBe(200);
  });
});
