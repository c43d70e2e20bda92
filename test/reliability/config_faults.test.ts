// Config faults on a running process: a broken file, a half-written file (written in place, not
// renamed), and a config whose credential file is missing all leave the last good config serving;
// a fixed config is picked up again; a rotated secret is reloaded without a config change.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type FakeOpenAI, startFakeOpenAI } from '../fakes/openai.ts';
import { type DataplaneProcess, spawnDataplane } from '../helpers/dataplane.ts';

let up: FakeOpenAI;
let dir: string;
let dp: DataplaneProcess;
const file = () => join(dir, 'config.yaml');

const goodConfig = (credentialFile: string, route = 'good') =>
  stringify({
    access: 'open',
    server: { secretsDir: 'secrets' },
    providers: [
      { name: 'up', type: 'openai', baseUrl: up.url, credentials: { apiKey: { file: credentialFile } } },
    ],
    routes: [{ name: route, backends: [{ provider: 'up' }] }],
  });

interface Ready {
  configValid: boolean;
  configHash: string;
  configError?: string;
}

async function ready(): Promise<Ready> {
  return (await (await fetch(`${dp.adminUrl}/readyz`)).json()) as Ready;
}

async function until(cond: (r: Ready) => boolean): Promise<Ready> {
  const deadline = Date.now() + 6000;
  let r = await ready();
  while (!cond(r) && Date.now() < deadline) {
    await new Promise((res) => setTimeout(res, 50));
    r = await ready();
  }
  return r;
}

async function answer(): Promise<string | undefined> {
  const client = new OpenAI({ baseURL: dp.baseURL, apiKey: 'x', maxRetries: 0 });
  await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
  return up.requests.at(-1)?.headers.authorization;
}

beforeAll(async () => {
  up = await startFakeOpenAI({ name: 'up' });
  dir = mkdtempSync(join(tmpdir(), 'sluice-cfgfault-'));
  mkdirSync(join(dir, 'secrets'));
  writeFileSync(join(dir, 'secrets', 'key-1'), 'sk-rotating-one\n');
  writeFileSync(file(), goodConfig('key-1'));
  dp = await spawnDataplane(file());
});

afterAll(async () => {
  await dp?.stop();
  await up?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('config faults keep the last good config serving', () => {
  it('a broken file', async () => {
    const good = await ready();
    writeFileSync(file(), 'routes: [ { name: x, backends: [ {provider: nope} ] } ]\nproviders: []\n');
    const r = await until((x) => !x.configValid);
    expect(r.configValid).toBe(false);
    expect(r.configHash).toBe(good.configHash);
    expect(await answer()).toBe('Bearer sk-rotating-one');
  });

  it('a half-written file (truncated mid-way, written in place)', async () => {
    const text = goodConfig('key-1', 'second');
    writeFileSync(file(), text.slice(0, Math.floor(text.length / 2)));
    const r = await until((x) => !x.configValid && /cannot parse|Invalid|required/.test(x.configError ?? ''));
    expect(r.configValid).toBe(false);
    expect(await answer()).toBe('Bearer sk-rotating-one');
  });

  it('a config that references a missing credential', async () => {
    writeFileSync(file(), goodConfig('no-such-key'));
    const r = await until((x) => (x.configError ?? '').includes('no-such-key'));
    expect(r.configError).toMatch(/cannot read secret file .*no-such-key/);
    expect(await answer()).toBe('Bearer sk-rotating-one');
  });

  it('recovers when the config is fixed, and reloads a rotated secret on its own', async () => {
    const before = await ready();
    writeFileSync(file(), goodConfig('key-1', 'fixed'));
    const r = await until((x) => x.configValid);
    expect(r.configValid).toBe(true);
    expect(r.configHash).not.toBe(before.configHash);
    writeFileSync(join(dir, 'secrets', 'key-1'), 'sk-rotating-two\n');
    const deadline = Date.now() + 6000;
    let auth = await answer();
    while (auth !== 'Bearer sk-rotating-two' && Date.now() < deadline) {
      await new Promise((res) => setTimeout(res, 100));
      auth = await answer();
    }
    expect(auth).toBe('Bearer sk-rotating-two');
    expect(dp.logs.join('')).not.toContain('sk-rotating');
  });
});
