// Hot reload of a big tenant config while clients keep calling: a real `sluice serve` process reads a
// config of 2,000 namespaces and 10,000 API keys the way the operator writes it (JSON in the ConfigMap
// key config.yaml, one key list per namespace in the mounted Secret), and swaps it for a new one while
// OpenAI SDK clients keep sending requests. No request is lost, the swap is atomic (a request started
// after the first answer from the new config is answered by the new config), the new tenant's key
// works and the removed tenant's key is refused; a broken big config keeps the last good one serving.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configJson } from '../../operator/src/render/encode.ts';
import { type DataplaneProcess, spawnDataplane } from '../helpers/dataplane.ts';
import { KubeletDir } from '../helpers/kubelet_dir.ts';

const NAMESPACES = 2_000;
const KEYS = 5;
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

let dir: string;
let configDir: KubeletDir;
let secretsDir: KubeletDir;
let dp: DataplaneProcess;

/** Generation 1 has ns-0..ns-1999; generation 2 drops ns-1999 and adds ns-new. */
function write(gen: number, opts: { corruptKeyList?: boolean } = {}): void {
  const names = Array.from({ length: NAMESPACES }, (_, n) => `ns-${n}`);
  if (gen >= 2) names.splice(NAMESPACES - 1, 1, 'ns-new');
  const secrets: Record<string, string> = {};
  for (const name of names) {
    const keys = Array.from({ length: KEYS }, (_, k) => ({
      name: `${name}-${k}`,
      sha256: sha(`sk-${name}-${k}`),
    }));
    if (opts.corruptKeyList && name === 'ns-1500') keys.push({ name: 'broken', sha256: 'not-a-digest' });
    secrets[`${name}.apikeys.json`] = JSON.stringify(keys);
  }
  const config = {
    server: { secretsDir: secretsDir.dir },
    providers: [{ name: 'mock', type: 'mock', mock: { text: `generation ${gen} answers`, outputTokens: 3 } }],
    routes: [
      { name: `gen-${gen}`, match: { models: ['mock'] }, backends: [{ provider: 'mock' }] },
      ...Array.from({ length: 200 }, (_, i) => ({
        name: `extra-${i}`,
        match: { models: [`team-${i}-*`], headers: [{ name: 'x-team', equals: `t${i}` }] },
        backends: [{ provider: 'mock', weight: 1 + (i % 3) }],
      })),
    ],
    namespaces: names.map((name, n) => ({
      name,
      match: { apiKeysFile: `${name}.apikeys.json` },
      policies: ['std'],
      ...(n % 10 === 0 ? { routes: [`gen-${gen}`, 'extra-1'] } : {}),
    })),
    policies: [{ name: 'std', requests: { limit: 1_000_000, window: 'minute' } }],
  };
  // the operator applies the Secret before the ConfigMap
  secretsDir.update(secrets);
  configDir.update({ 'config.yaml': configJson(config) });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-reload-big-'));
  mkdirSync(join(dir, 'config'));
  mkdirSync(join(dir, 'secrets'));
  configDir = new KubeletDir(join(dir, 'config'));
  secretsDir = new KubeletDir(join(dir, 'secrets'));
  write(1);
  dp = await spawnDataplane(join(dir, 'config', 'config.yaml'), {}, 60_000);
}, 90_000);

afterAll(async () => {
  await dp?.stop('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

interface Call {
  start: number;
  end: number;
  gen: number;
}

async function readyz(): Promise<{ configHash: string; configValid: boolean; configError?: string }> {
  return (await (await fetch(`${dp.adminUrl}/readyz`)).json()) as {
    configHash: string;
    configValid: boolean;
    configError?: string;
  };
}

describe('hot reload of 2,000 namespaces / 10,000 keys under traffic', () => {
  it('loses no request, swaps atomically and ends serving the new config', async () => {
    const client = new OpenAI({ baseURL: dp.baseURL, apiKey: 'sk-ns-5-0', maxRetries: 0 });
    const calls: Call[] = [];
    const failures: unknown[] = [];
    let stop = false;
    const generation = (text: string) => {
      const m = /^generation (\d+) answers/.exec(text.trim());
      if (!m) throw new Error(`unexpected answer: ${text}`);
      return Number(m[1]);
    };
    const worker = async (stream: boolean) => {
      while (!stop) {
        const start = performance.now();
        try {
          let text = '';
          if (stream) {
            const s = await client.chat.completions.create({
              model: 'mock',
              messages: [{ role: 'user', content: 'hi' }],
              stream: true,
            });
            for await (const c of s) text += c.choices[0]?.delta.content ?? '';
          } else {
            const r = await client.chat.completions.create({
              model: 'mock',
              messages: [{ role: 'user', content: 'hi' }],
            });
            text = r.choices[0]?.message.content ?? '';
          }
          calls.push({ start, end: performance.now(), gen: generation(text) });
        } catch (err) {
          failures.push(err);
          if (failures.length > 20) stop = true;
        }
      }
    };
    const workers = [worker(false), worker(true), worker(false), worker(true)];
    const until = async (what: string, ok: () => boolean, timeoutMs = 60_000) => {
      const deadline = Date.now() + timeoutMs;
      while (!ok()) {
        if (Date.now() > deadline || stop) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    try {
      await until('traffic on generation 1', () => calls.length >= 20);
      const before = await readyz();
      write(2);
      await until('an answer from generation 2', () => calls.some((c) => c.gen === 2));
      const switched = Math.min(...calls.filter((c) => c.gen === 2).map((c) => c.end));
      await until('more traffic on generation 2', () => calls.filter((c) => c.start > switched).length >= 20);
      stop = true;
      await Promise.all(workers);

      expect(failures).toEqual([]);
      expect(calls.filter((c) => c.gen === 1).length).toBeGreaterThanOrEqual(20);
      // atomic: nothing that started after the new config answered was served by the old one
      expect(calls.filter((c) => c.start > switched && c.gen !== 2)).toEqual([]);
      const after = await readyz();
      expect(after.configValid).toBe(true);
      expect(after.configHash).not.toBe(before.configHash);
    } finally {
      stop = true;
      await Promise.all(workers);
    }

    // the new tenant's key works, the removed tenant's key is refused
    const fresh = new OpenAI({ baseURL: dp.baseURL, apiKey: 'sk-ns-new-4', maxRetries: 0 });
    const r = await fresh.chat.completions.create({
      model: 'mock',
      messages: [{ role: 'user', content: 'x' }],
    });
    expect(r.choices[0]?.message.content?.trim()).toBe('generation 2 answers');
    const gone = new OpenAI({ baseURL: dp.baseURL, apiKey: 'sk-ns-1999-0', maxRetries: 0 });
    const err = await gone.chat.completions
      .create({ model: 'mock', messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
  }, 120_000);

  it('keeps serving the last good config when a big new one has a broken key list', async () => {
    const before = await readyz();
    write(3, { corruptKeyList: true });
    let ready = before;
    const deadline = Date.now() + 60_000;
    while (ready.configValid && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      ready = await readyz();
    }
    expect(ready.configValid).toBe(false);
    expect(ready.configError).toContain('namespaces[1500].match.apiKeysFile[5]');
    expect(ready.configHash).toBe(before.configHash);
    const client = new OpenAI({ baseURL: dp.baseURL, apiKey: 'sk-ns-new-0', maxRetries: 0 });
    const r = await client.chat.completions.create({
      model: 'mock',
      messages: [{ role: 'user', content: 'x' }],
    });
    expect(r.choices[0]?.message.content?.trim()).toBe('generation 2 answers');
  }, 90_000);
});
