// Hot reload under load: a real `sluice serve` process reads its config from a kubelet-style folder;
// continuous traffic (streaming and not) runs through 24 config swaps with zero failed requests, an
// invalid config keeps the last good one (visible in /readyz and a metric), and SIGTERM drains.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type FakeOpenAI, startFakeOpenAI } from '../fakes/openai.ts';
import { type DataplaneProcess, openaiProvider, spawnDataplane } from '../helpers/dataplane.ts';
import { KubeletDir } from '../helpers/kubelet_dir.ts';

let a: FakeOpenAI;
let b: FakeOpenAI;
let dir: string;
let kd: KubeletDir;
let dp: DataplaneProcess;

const config = (version: number, target: 'a' | 'b') =>
  stringify({
    access: 'open',
    providers: [
      openaiProvider('a', a.url),
      openaiProvider('b', b.url),
      { name: 'mock', type: 'mock', mock: { outputTokens: 4 } },
    ],
    routes: [
      { name: `v${version}`, match: { models: ['gpt-4o-mini'] }, backends: [{ provider: target }] },
      { name: 'mock', match: { models: ['mock'] }, backends: [{ provider: 'mock' }] },
    ],
  });

beforeAll(async () => {
  a = await startFakeOpenAI({ name: 'a' });
  b = await startFakeOpenAI({ name: 'b' });
  dir = mkdtempSync(join(tmpdir(), 'sluice-reload-'));
  kd = new KubeletDir(dir);
  kd.update({ 'config.yaml': config(0, 'a') });
  dp = await spawnDataplane(join(dir, 'config.yaml'));
});

afterAll(async () => {
  await dp?.stop('SIGKILL');
  await a?.close();
  await b?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function metric(name: string): Promise<string> {
  const text = await (await fetch(`${dp.adminUrl}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(name))
    .join('\n');
}

describe('hot reload', () => {
  it('serves continuous traffic through 24 kubelet-style swaps with zero failures', async () => {
    const client = new OpenAI({ baseURL: dp.baseURL, apiKey: 'x', maxRetries: 0 });
    let stop = false;
    let ok = 0;
    const failures: unknown[] = [];
    const seen = new Set<string>();
    const worker = async (stream: boolean) => {
      while (!stop) {
        try {
          if (stream) {
            const s = await client.chat.completions.create({
              model: 'gpt-4o-mini',
              messages: [{ role: 'user', content: 'hi' }],
              stream: true,
            });
            let text = '';
            let finish: string | null | undefined;
            for await (const c of s) {
              text += c.choices[0]?.delta.content ?? '';
              finish = c.choices[0]?.finish_reason ?? finish;
            }
            if (finish !== 'stop' || !/^\[[ab]\] from/.test(text))
              throw new Error(`bad stream: ${finish} ${text}`);
            seen.add(text.slice(1, 2));
          } else {
            const r = await client.chat.completions.create({
              model: 'gpt-4o-mini',
              messages: [{ role: 'user', content: 'hi' }],
            });
            seen.add(r.choices[0]?.message.content?.slice(1, 2) ?? '?');
          }
          ok++;
        } catch (err) {
          failures.push(err);
        }
      }
    };
    a.setFault(() => ({ chunkDelayMs: 5 }));
    b.setFault(() => ({ chunkDelayMs: 5 }));
    const workers = [worker(false), worker(false), worker(true), worker(true)];
    // Each swap waits until the replica serves it (its hash changes), so all 24 are real reloads
    // even when a loaded machine delays the watcher.
    let hash = ((await (await fetch(`${dp.adminUrl}/readyz`)).json()) as { configHash: string }).configHash;
    for (let i = 1; i <= 24; i++) {
      await new Promise((r) => setTimeout(r, 100));
      kd.update({ 'config.yaml': config(i, i % 2 ? 'b' : 'a') });
      const deadline = Date.now() + 5000;
      for (;;) {
        const now = ((await (await fetch(`${dp.adminUrl}/readyz`)).json()) as { configHash: string })
          .configHash;
        if (now !== hash || Date.now() > deadline) {
          expect(now, `reload ${i} not served`).not.toBe(hash);
          hash = now;
          break;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    await new Promise((r) => setTimeout(r, 400));
    stop = true;
    await Promise.all(workers);
    expect(failures.map(String)).toEqual([]);
    expect(ok).toBeGreaterThan(40);
    expect(seen).toEqual(new Set(['a', 'b']));
    const reloads = await metric('sluice_config_reloads_total{result="success"}');
    expect(Number(reloads.split(' ')[1])).toBeGreaterThanOrEqual(24);
  });

  it('keeps the last good config when a new one is invalid, and says so', async () => {
    const before = (await (await fetch(`${dp.adminUrl}/readyz`)).json()) as { configHash: string };
    kd.update({ 'config.yaml': 'providers: []\nroutes: [{ name: broken }]\n' });
    const deadline = Date.now() + 5000;
    let ready: { configValid: boolean; configError?: string; configHash: string } = {
      configValid: true,
      configHash: '',
    };
    while (Date.now() < deadline) {
      ready = (await (await fetch(`${dp.adminUrl}/readyz`)).json()) as typeof ready;
      if (!ready.configValid) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(ready.configValid).toBe(false);
    expect(ready.configError).toMatch(/providers: Too small/);
    expect(ready.configHash).toBe(before.configHash);
    expect(await metric('sluice_config_valid')).toMatch(/sluice_config_valid 0/);
    expect(dp.logs.join('')).toMatch(/config reload failed; keeping the last good config/);
    const client = new OpenAI({ baseURL: dp.baseURL, apiKey: 'x', maxRetries: 0 });
    const r = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(r.choices[0]?.message.content).toMatch(/^\[[ab]\]/);
  });

  it('drains in-flight streams on SIGTERM and exits 0', async () => {
    kd.update({ 'config.yaml': config(100, 'a') });
    await new Promise((r) => setTimeout(r, 500));
    a.setFault(() => ({ tokens: 30, chunkDelayMs: 30 }));
    const client = new OpenAI({ baseURL: dp.baseURL, apiKey: 'x', maxRetries: 0 });
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    const reading = (async () => {
      let finish: string | null | undefined;
      let n = 0;
      for await (const c of stream) {
        n++;
        finish = c.choices[0]?.finish_reason ?? finish;
      }
      return { finish, n };
    })();
    await new Promise((r) => setTimeout(r, 100));
    const code = dp.stop('SIGTERM');
    const { finish, n } = await reading;
    expect(finish).toBe('stop');
    expect(n).toBeGreaterThanOrEqual(30);
    expect(await code).toBe(0);
  });
});
