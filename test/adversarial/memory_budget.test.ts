// Issue 13 finding 4 (second half): concurrent large request bodies and large upstream answers must
// not take a replica past its memory limit. They share one byte budget (server.memoryBudgetBytes);
// a request that does not fit gets 503 SLUICE_ERR_OVERLOADED with Retry-After, and the budget is
// given back when a response ends. Against real `sluice serve` processes.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeOpenAI, startFakeOpenAI } from '../fakes/openai.ts';
import {
  configDir,
  type DataplaneProcess,
  openaiProvider,
  spawnDataplane,
  type TestConfigDir,
} from '../helpers/dataplane.ts';

const MiB = 1024 * 1024;
const started: Array<{ dp: DataplaneProcess; cfg: TestConfigDir }> = [];
let upstream: FakeOpenAI;

async function serve(config: Record<string, unknown>): Promise<DataplaneProcess> {
  const cfg = configDir(config);
  const dp = await spawnDataplane(cfg.file, { SLUICE_TEST_KEY: 'sk-upstream-test' });
  started.push({ dp, cfg });
  return dp;
}

beforeAll(async () => {
  upstream = await startFakeOpenAI({ apiKey: 'sk-upstream-test' });
});

afterAll(async () => {
  for (const { dp, cfg } of started) {
    await dp.stop();
    cfg.cleanup();
  }
  await upstream?.close();
});

function chat(contentBytes: number, model = 'slow'): string {
  return JSON.stringify({ model, messages: [{ role: 'user', content: 'x'.repeat(contentBytes) }] });
}

async function post(dp: DataplaneProcess, body: string, key?: string) {
  const res = await fetch(`${dp.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body,
  });
  const json = (await res.json()) as { error?: { code: string; message: string } };
  return { status: res.status, retryAfter: res.headers.get('retry-after'), json };
}

function rssMiB(pid: number): number {
  const kb = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)?.[1];
  return Number(kb ?? 0) / 1024;
}

const slowMock = {
  providers: [{ name: 'slow', type: 'mock', mock: { latencyMs: 1500, outputTokens: 2 } }],
  routes: [{ name: 'r', match: { models: ['slow'] }, backends: [{ provider: 'slow' }] }],
};

describe('memory budget', () => {
  it('request bodies in flight beyond the budget get 503 + Retry-After; the budget comes back', async () => {
    // A body costs 4x its bytes: two 2 MB bodies fit in 16 MiB, a third does not.
    const dp = await serve({ server: { memoryBudgetBytes: 16 * MiB }, ...slowMock });
    const answers = await Promise.all([0, 1, 2].map(() => post(dp, chat(2_000_000))));
    const refused = answers.filter((a) => a.status === 503);
    expect(answers.filter((a) => a.status === 200)).toHaveLength(2);
    expect(refused).toHaveLength(1);
    expect(refused[0]?.json.error?.code).toBe('SLUICE_ERR_OVERLOADED');
    expect(Number(refused[0]?.retryAfter)).toBeGreaterThan(0);
    // everything was given back: the same three fit again, one after the other
    for (let i = 0; i < 3; i++) expect((await post(dp, chat(2_000_000))).status).toBe(200);
  });

  it("one tenant's large bodies cannot take the whole budget from the others", async () => {
    const key = (n: string) => `sk-budget-${n}-0123456789`;
    const dp = await serve({
      server: { memoryBudgetBytes: 16 * MiB },
      ...slowMock,
      namespaces: ['noisy', 'quiet'].map((n) => ({
        name: n,
        match: { apiKeys: [{ name: 'k', sha256: createHash('sha256').update(key(n)).digest('hex') }] },
      })),
    });
    // 8 MB of budget each: the noisy tenant's half (8 MiB) fits one, the quiet tenant still gets in
    const noisy = [0, 1, 2].map(() => post(dp, chat(2_000_000), key('noisy')));
    await new Promise((r) => setTimeout(r, 300));
    const quiet = await post(dp, chat(2_000_000), key('quiet'));
    const answers = await Promise.all(noisy);
    expect(quiet.status, JSON.stringify(quiet.json)).toBe(200);
    expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
    const refused = answers.filter((a) => a.status === 503);
    expect(refused).toHaveLength(2);
    expect(refused[0]?.json.error?.message).toMatch(/namespace 'noisy' holds its share/);
  });

  it('a whole upstream answer beyond the budget is refused, and the provider is not blamed for it', async () => {
    upstream.setFault((req) =>
      (req.body?.messages as Array<{ content: string }> | undefined)?.[0]?.content === 'big'
        ? { bodyBytes: 3 * MiB }
        : {},
    );
    const dp = await serve({
      server: { memoryBudgetBytes: 4 * MiB },
      providers: [openaiProvider('up', upstream.url)],
      routes: [{ name: 'r', match: { models: ['gpt-4o-mini'] }, backends: [{ provider: 'up' }] }],
    });
    const ask = (content: string) =>
      post(dp, JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }] }));
    // more refusals than the breaker's 5 consecutive failures: it must stay closed
    for (let i = 0; i < 7; i++) {
      const big = await ask('big');
      expect(big.status).toBe(503);
      expect(big.json.error?.code).toBe('SLUICE_ERR_OVERLOADED');
    }
    const small = await ask('small');
    expect(small.status, JSON.stringify(small.json)).toBe(200);
  });

  it('a flood of large bodies keeps RSS below the chart limit (512 Mi) with the default budget', async () => {
    const dp = await serve(slowMock);
    const pid = dp.child.pid as number;
    const body = chat(8_000_000);
    const idle = rssMiB(pid);
    let peak = idle;
    const sampler = setInterval(() => {
      peak = Math.max(peak, rssMiB(pid));
    }, 25);
    const answers = await Promise.all(Array.from({ length: 24 }, () => post(dp, body)));
    clearInterval(sampler);
    const ok = answers.filter((a) => a.status === 200).length;
    const overloaded = answers.filter((a) => a.json.error?.code === 'SLUICE_ERR_OVERLOADED').length;
    // 24 bodies of 8 MB held at once peaked at ~640 MiB before the budget; with it, a few fit at a time
    expect(peak, `RSS idle ${idle.toFixed(0)} MiB, peak ${peak.toFixed(0)} MiB, ${ok} served`).toBeLessThan(
      450,
    );
    expect(ok + overloaded).toBe(24);
    expect(ok).toBeGreaterThan(0);
    expect(overloaded).toBeGreaterThan(0);
  });
});
