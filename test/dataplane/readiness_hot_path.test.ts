// Ready means warm, the hot path (issue 12): before a replica says ready, requests have gone through
// its real API server and every configured translator pair, on a private runtime, so that no
// upstream sees a request, no tenant's counters move and no metric series of the warm-up remain.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileRuntime } from '../../dataplane/src/compiled/compile.ts';
import { ProviderRegistry } from '../../dataplane/src/compiled/provider_runtime.ts';
import { decideReadiness, warmUp } from '../../dataplane/src/compiled/readiness.ts';
import {
  buildWarmRuntime,
  exerciseHotPath,
  type HotPathReport,
} from '../../dataplane/src/compiled/warm_hot_path.ts';
import { validateConfig } from '../../dataplane/src/config/load.ts';
import { Dataplane } from '../../dataplane/src/dataplane.ts';
import { listPresets } from '../../dataplane/src/providers/presets.ts';
import { buildServer } from '../../dataplane/src/server.ts';
import { configDir, openByDefault, type TestConfigDir } from '../helpers/dataplane.ts';
import { sha256 } from '../policy/fixtures.ts';

/** A real upstream per provider type that counts every request it gets (the warm-up must send none). */
async function countingUpstream(): Promise<{ url: string; seen: string[]; server: Server }> {
  const seen: string[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    seen.push(`${req.method} ${req.url}`);
    res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":{"message":"not expected"}}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, server };
}

interface ReadyBody {
  warm?: { hotPath?: HotPathReport };
}

describe('a fresh replica with four backend wire formats', () => {
  let upstream: Awaited<ReturnType<typeof countingUpstream>>;
  let dp: { baseURL: string; adminUrl: string; dataplane: Dataplane; config: TestConfigDir };
  /** every line the dataplane logged, at debug level */
  const lines: string[] = [];
  const env = ['OPENAI_KEY', 'ANTHROPIC_KEY', 'GEMINI_KEY', 'AWS_ID', 'AWS_SECRET'];

  beforeAll(async () => {
    upstream = await countingUpstream();
    for (const e of env) process.env[`WARM_TEST_${e}`] = 'test-only-value';
    const key = (e: string) => ({ env: `WARM_TEST_${e}` });
    const config = configDir({
      providers: [
        {
          name: 'oai',
          type: 'openai',
          baseUrl: `${upstream.url}/v1`,
          credentials: { apiKey: key('OPENAI_KEY') },
          models: [{ name: 'gpt-4o-mini' }],
        },
        {
          name: 'claude',
          type: 'anthropic',
          baseUrl: upstream.url,
          credentials: { apiKey: key('ANTHROPIC_KEY') },
          models: [{ name: 'claude-sonnet-4-5' }],
        },
        {
          name: 'gem',
          type: 'gemini',
          baseUrl: `${upstream.url}/v1beta`,
          credentials: { apiKey: key('GEMINI_KEY') },
          models: [{ name: 'gemini-2.5-flash' }],
        },
        {
          name: 'rock',
          type: 'bedrock',
          baseUrl: upstream.url,
          region: 'us-east-1',
          credentials: { accessKeyId: key('AWS_ID'), secretAccessKey: key('AWS_SECRET') },
          models: [{ name: 'anthropic.claude-3-haiku' }],
        },
        { name: 'mock', type: 'mock', models: [{ name: 'mock-small' }] },
      ],
      routes: [
        { name: 'oai', match: { models: ['gpt-4o-mini'] }, backends: [{ provider: 'oai' }] },
        { name: 'claude', match: { models: ['claude-sonnet-4-5'] }, backends: [{ provider: 'claude' }] },
        { name: 'gem', match: { models: ['gemini-2.5-flash'] }, backends: [{ provider: 'gem' }] },
        { name: 'rock', match: { models: ['anthropic.claude-3-haiku'] }, backends: [{ provider: 'rock' }] },
        { name: 'mock', match: { models: ['mock-small'] }, backends: [{ provider: 'mock' }] },
      ],
      namespaces: [
        { name: 'team', match: { apiKeys: [{ name: 'k', sha256: sha256('sk-team') }] }, policies: ['two'] },
      ],
      // two requests a minute: a warm-up charged to this tenant would use them up
      policies: [{ name: 'two', requests: { limit: 2, window: 'minute' } }],
    });
    const log = pino({ level: 'debug' }, { write: (line: string) => lines.push(line) });
    const dataplane = new Dataplane({
      configFile: config.file,
      log,
      host: '127.0.0.1',
      port: 0,
      adminPort: 0,
    });
    const url = await dataplane.start();
    dp = { baseURL: `${url}/v1`, adminUrl: dataplane.adminAddress, dataplane, config };
  });

  afterAll(async () => {
    await dp?.dataplane.stop();
    dp?.config.cleanup();
    upstream?.server.close();
    for (const e of env) delete process.env[`WARM_TEST_${e}`];
  });

  it('sent requests through the API server and every translator pair before it was ready', async () => {
    const r = await fetch(`${dp.adminUrl}/readyz`);
    expect(r.status).toBe(200);
    const hot = ((await r.json()) as ReadyBody).warm?.hotPath;
    expect(hot?.requests).toBeGreaterThan(0);
    expect(hot?.failures).toBeUndefined();
    expect(hot?.ok).toBe(hot?.requests);
    // several rounds, each with its own cost measured, so V8 has compiled what the first ones ran
    expect(hot?.rounds).toBeGreaterThanOrEqual(3);
    expect(hot?.roundCpuMs).toHaveLength(hot?.rounds ?? -1);
    // every client API to every backend wire format the config uses (and the mock's own transport)
    for (const client of ['openai-chat', 'anthropic-messages', 'openai-responses'])
      for (const backend of ['openai', 'anthropic', 'gemini', 'bedrock'])
        expect(hot?.pairs).toContain(`${client}->${backend}`);
    expect(hot?.pairs).toEqual(
      expect.arrayContaining(['openai-completions->openai', 'openai-embeddings->openai']),
    );
    expect(hot?.pairs).toContain('openai-embeddings->gemini');
  });

  it('reached no upstream', () => {
    expect(upstream.seen).toEqual([]);
  });

  // before the limit below is used up (this refusal spends one of it): a caller over its rate gets
  // its 429 before any route lookup
  it('does not serve the warm-up tenant once listening', async () => {
    const r = await fetch(`${dp.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-team' },
      body: JSON.stringify({ model: 'sluice-warmup-openai', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(r.status).toBe(404);
  });

  it("charged no tenant: the tenant's whole limit is still there", async () => {
    const ask = () =>
      fetch(`${dp.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer sk-team' },
        body: JSON.stringify({ model: 'mock-small', messages: [{ role: 'user', content: 'hi' }] }),
      }).then((x) => x.status);
    // two a minute, one spent by the refused request above (a refusal is a request too): one is left,
    // so the warm-up's requests took none of them
    expect([await ask(), await ask()]).toEqual([200, 429]);
  });

  it('logged one line about the warm-up, and none of its requests', () => {
    expect(lines.filter((l) => l.includes('"msg":"warmed up"'))).toHaveLength(1);
    expect(lines.filter((l) => l.includes(`"reqId":"sluice-warmup`))).toEqual([]);
    // the API server's access lines are back on once it listens
    expect(lines.some((l) => l.includes('"msg":"request"') && l.includes('"namespace":"team"'))).toBe(true);
  });

  it('left no metric series behind', async () => {
    const text = await (await fetch(`${dp.adminUrl}/metrics`)).text();
    expect(text).not.toContain('sluice-warmup');
    // the requests above are counted: the families work, only the warm-up's series are gone
    expect(text).toMatch(/sluice_requests_total\{route="mock",namespace="team"/);
  });
});

describe('a warm-up that fails', () => {
  const config = validateConfig(
    openByDefault({
      providers: [{ name: 'mock', type: 'mock', models: [{ name: 'm' }] }],
      routes: [{ name: 'r', backends: [{ provider: 'mock' }] }],
    }),
  );

  it('leaves the replica ready, and says what was not warmed', async () => {
    const rt = await compileRuntime(config, { configDir: '/', state: new ProviderRegistry() });
    // a server with no API routes: every warm-up request is answered 404
    const swaps: unknown[] = [];
    const warm = await warmUp(rt, { app: Fastify(), swap: (x) => swaps.push(x) });
    expect(warm.hotPath?.ok).toBe(0);
    expect(warm.hotPath?.failures?.[0]).toMatch(/status 404/);
    // the real runtime is served again afterwards
    expect(swaps.at(-1)).toBeUndefined();
    expect(decideReadiness({ draining: false, warm, store: undefined })).toEqual({ ready: true });
  });

  it('stops at its deadline', async () => {
    const warm = await buildWarmRuntime(config);
    try {
      const report = await exerciseHotPath(Fastify(), warm, { minRounds: 3, maxRounds: 12, deadlineMs: 0 });
      expect(report).toMatchObject({ requests: 0, ok: 0 });
      expect(report.failures?.[0]).toMatch(/deadline of 0 ms passed/);
    } finally {
      await warm.close();
    }
  });
});

describe('every provider preset', () => {
  it('is warmed without a failure: a preset whose quirks broke the warm-up would say so on every start', async () => {
    const presets = listPresets();
    const config = validateConfig(
      openByDefault({
        providers: presets.map((p) => ({
          name: p.type,
          type: p.type,
          ...(p.defaultBaseUrl ? {} : { baseUrl: 'https://models.example.com/v1' }),
          ...(p.type === 'bedrock' ? { region: 'eu-west-1' } : {}),
          credentials: Object.fromEntries(p.requiredCredentials.map((c) => [c, { env: 'HOME' }])),
          models: [{ name: 'm' }],
        })),
        routes: [{ name: 'r', backends: [{ provider: 'mock' }] }],
      }),
    );
    const warm = await buildWarmRuntime(config);
    const app = buildServer(
      { runtime: () => warm.runtime, ready: () => ({ ready: true, details: {} }), draining: () => false },
      pino({ level: 'silent' }),
      { bodyLimit: 1_000_000, maxHeaderBytes: 16_384, requestReceiveTimeoutMs: 30_000 },
    );
    try {
      const report = await exerciseHotPath(app, warm, { minRounds: 1, maxRounds: 1, deadlineMs: 60_000 });
      expect(report.failures).toBeUndefined();
      expect(report.ok).toBe(report.requests);
      // one warm-up provider per type, each of them asked
      expect(warm.upstreams).toHaveLength(presets.length);
      for (const u of warm.upstreams) expect(u.received).toBeGreaterThan(0);
    } finally {
      await app.close();
      await warm.close();
    }
  });
});
