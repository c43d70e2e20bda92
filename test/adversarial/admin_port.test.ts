// Finding 7 of the adversarial review: /metrics and /readyz shared the API port with no auth, showing
// every tenant's usage and cost to anyone who could reach the gateway, and /readyz printed the first
// characters of a secret file mounted where a JSON key list was expected. Through a real
// `sluice serve` process and the official openai SDK: the API port answers health and readiness with
// a bare status and serves no metrics; metrics and details live on the admin port; and no message,
// on either port or in the logs, quotes a secret file.
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  configDir,
  type DataplaneProcess,
  NODE_BIN,
  REPO_ROOT,
  spawnDataplane,
  type TestConfigDir,
} from '../helpers/dataplane.ts';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
// a secret file's content: what must never be quoted (fresh per run)
const SECRET = `sk-live-${randomBytes(24).toString('hex')}`;
const TENANT_KEY = `sk-tenant-${randomBytes(12).toString('hex')}`;

let cfg: TestConfigDir;
let dp: DataplaneProcess;
let client: OpenAI;

function config(keysFile: string): Record<string, unknown> {
  return {
    providers: [{ name: 'mock', type: 'mock', mock: { outputTokens: 4 } }],
    routes: [{ name: 'main', match: { models: ['m'] }, backends: [{ provider: 'mock' }] }],
    namespaces: [{ name: 'team-secret-project', match: { apiKeysFile: keysFile }, policies: [] }],
  };
}

beforeAll(async () => {
  cfg = configDir({});
  writeFileSync(join(cfg.dir, 'keys.json'), JSON.stringify([{ name: 'app', sha256: sha256(TENANT_KEY) }]));
  writeFileSync(join(cfg.dir, 'provider-key'), SECRET);
  cfg.write(config('keys.json'));
  dp = await spawnDataplane(cfg.file);
  client = new OpenAI({ baseURL: dp.baseURL, apiKey: TENANT_KEY, maxRetries: 0 });
  // traffic, so the metrics have a tenant's usage to show
  await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hello' }] });
});

afterAll(async () => {
  await dp?.stop();
  cfg?.cleanup();
});

const get = async (url: string) => {
  const r = await fetch(url);
  return { status: r.status, text: await r.text() };
};

describe('the API port', () => {
  it('serves no metrics', async () => {
    const r = await get(`${dp.url}/metrics`);
    expect(r.status).toBe(404);
    expect(r.text).not.toContain('sluice_');
    expect(r.text).not.toContain('team-secret-project');
  });

  it('answers /healthz and /readyz with a status and nothing else', async () => {
    expect(JSON.parse((await get(`${dp.url}/healthz`)).text)).toEqual({ status: 'ok' });
    const ready = await get(`${dp.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.text)).toEqual({ status: 'ready' });
  });

  it('is a different port from the admin port', () => {
    expect(new URL(dp.adminUrl).port).not.toBe(new URL(dp.url).port);
  });
});

describe('the admin port', () => {
  it('serves the metrics, tenants included', async () => {
    const r = await get(`${dp.adminUrl}/metrics`);
    expect(r.status).toBe(200);
    expect(r.text).toMatch(/sluice_requests_total\{[^}]*namespace="team-secret-project"/);
  });

  it('serves the detailed readiness', async () => {
    const body = JSON.parse((await get(`${dp.adminUrl}/readyz`)).text) as Record<string, unknown>;
    expect(body).toMatchObject({ status: 'ready', configValid: true });
    expect(body.providers).toHaveProperty('mock');
  });

  it('does not serve the API', async () => {
    const r = await fetch(`${dp.adminUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TENANT_KEY}` },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x' }] }),
    });
    expect(r.status).toBe(404);
  });
});

describe('a secret file where a key list belongs', () => {
  it('is reported by field and position, never quoted, on either port or in the logs', async () => {
    const before = JSON.parse((await get(`${dp.adminUrl}/readyz`)).text) as { configHash: string };
    cfg.write(config('provider-key'));
    let body: { configValid?: boolean; configError?: string; configHash?: string } = {};
    for (let i = 0; i < 100 && body.configValid !== false; i++) {
      await new Promise((r) => setTimeout(r, 100));
      body = JSON.parse((await get(`${dp.adminUrl}/readyz`)).text) as typeof body;
    }
    expect(body.configValid).toBe(false);
    expect(body.configHash).toBe(before.configHash); // the last good config keeps serving
    expect(body.configError).toMatch(/apiKeysFile.*not JSON/);
    const api = await get(`${dp.url}/readyz`);
    expect(JSON.parse(api.text)).toEqual({ status: 'ready' });
    const pieces = Array.from({ length: SECRET.length - 5 }, (_, i) => SECRET.slice(i, i + 6));
    const seen = [JSON.stringify(body), api.text, dp.logs.join('')].join('\n');
    expect(pieces.filter((p) => seen.includes(p))).toEqual([]);
    cfg.write(config('keys.json'));
  });
});

describe('configuration', () => {
  it('refuses an admin port equal to the API port, naming the field', () => {
    const file = join(cfg.dir, 'same-port.yaml');
    writeFileSync(
      file,
      JSON.stringify({
        access: 'open',
        ...config('keys.json'),
        namespaces: [],
        server: { port: 18931, admin: { port: 18931 } },
      }),
    );
    const r = spawnSync(NODE_BIN, [join(REPO_ROOT, 'bin/sluice.js'), 'serve', '--config', file], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.status).not.toBe(0);
    expect(`${r.stdout}${r.stderr}`).toMatch(/server\.admin\.port.*must differ/);
  });
});
