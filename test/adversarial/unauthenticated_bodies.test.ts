// Issue 13 finding 4 (first half): no work before authentication. Large request bodies without valid
// credentials must get 401 without the body being buffered or parsed: the event loop stays free (a
// /healthz ping sent every 20 ms keeps answering fast) and the replica's RSS does not grow with them.
// Against a real `sluice serve` process with an API-key tenant.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  configDir,
  type DataplaneProcess,
  spawnDataplane,
  type TestConfigDir,
} from '../helpers/dataplane.ts';
import { cpuMs, startPinger } from '../helpers/event_loop_ping.ts';
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
    const pid = dp.child.pid as number;
    const rssBefore = rssMiB(pid);
    const cpuBefore = cpuMs(pid);
    const ping = startPinger(dp.url);
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
    const rssGrowth = rssMiB(pid) - rssBefore;
    const cpu = cpuMs(pid) - cpuBefore;
    // Before the fix each body was parsed (hundreds of ms of event loop each) and held (~5x its
    // size in the heap). Generous bounds: the loop never blocked for long, memory hardly moved.
    // CPU time does not depend on what else the machine runs: parsing the nine bodies took ~1.6 s
    // before; reading and discarding their 85 MB takes a fraction of that.
    expect(cpu, `dataplane CPU ${cpu} ms`).toBeLessThan(1000);
    expect(worstPingMs).toBeLessThan(500);
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
