// The accuracy target: three `sluice serve` PROCESSES on one real Redis share every limit exactly.
// Under concurrent load spread over all replicas, a 100 requests/minute limit and a 10,000
// tokens/minute limit each admit within ±2% of the limit in total, and requests refused as invalid
// on any replica spend the one shared request rate.
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { Agent, fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countPromptTokens } from '../../dataplane/src/tokens/counter.ts';
import {
  configDir,
  type DataplaneProcess,
  spawnDataplane,
  type TestConfigDir,
} from '../helpers/dataplane.ts';
import { type RedisServer, startRedis } from '../helpers/redis.ts';
import { sha256, tenantConfig } from './fixtures.ts';

const REPLICAS = 3;
let redis: RedisServer;
let cfg: TestConfigDir;
let replicas: DataplaneProcess[] = [];

/**
 * The prompt of every request and its token count. The mock provider reports prompt usage counted
 * exactly as Sluice counts it (o200k + chat framing), so reconciliation moves nothing and the test
 * measures the limiter, not tokenizers.
 */
function agreeingPrompt(): { text: string; tokens: number } {
  const text = '1234567890'.repeat(20) + ' hello'.repeat(12);
  return { text, tokens: countPromptTokens(text, 1, 'o200k_base') };
}

async function waitShared(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const r = await fetch(`${url}/readyz`).catch(() => undefined);
    const body = r?.ok ? ((await r.json()) as { policy?: { store?: { mode?: string } } }) : undefined;
    if (body?.policy?.store?.mode === 'shared') return;
    await sleep(100);
  }
  throw new Error(`${url} never reported a shared store`);
}

beforeAll(async () => {
  redis = await startRedis();
  cfg = configDir(
    tenantConfig({
      store: { type: 'redis', redis: { url: redis.url, replicas: REPLICAS, commandTimeoutMs: 2_000 } },
      mock: { latencyMs: 20, outputTokens: 50, chunkTokens: 10 },
      namespaces: [
        { name: 'rpm', match: { apiKeys: [{ name: 'k', sha256: sha256('sk-rpm') }] }, policies: ['rpm-100'] },
        { name: 'tpm', match: { apiKeys: [{ name: 'k', sha256: sha256('sk-tpm') }] }, policies: ['tpm-10k'] },
        { name: 'bad', match: { apiKeys: [{ name: 'k', sha256: sha256('sk-bad') }] }, policies: ['rpd-30'] },
      ],
      policies: [
        { name: 'rpm-100', requests: { limit: 100, window: 'minute' } },
        { name: 'tpm-10k', tokens: [{ limit: 10_000, window: 'minute', kind: 'total' }] },
        // a day's window: nothing refills while the test runs
        { name: 'rpd-30', requests: { limit: 30, window: 'day' } },
      ],
    }),
  );
  replicas = await Promise.all(Array.from({ length: REPLICAS }, () => spawnDataplane(cfg.file, {}, 45_000)));
  // the detailed readiness (store mode) is on the admin port
  await Promise.all(replicas.map((r) => waitShared(r.adminUrl)));
}, 60_000);

afterAll(async () => {
  await Promise.all(replicas.map((r) => r.stop()));
  await agent.close();
  await redis?.stop();
  cfg?.cleanup();
});

// Idle sockets are dropped well before the server's keep-alive timeout, so a load burst after a pause
// never races a server-side close (a reset POST would be ambiguous for counting).
const agent = new Agent({ keepAliveTimeout: 1_000, keepAliveMaxTimeout: 1_000 });

function send(i: number, key: string, body: unknown) {
  const target = replicas[i % REPLICAS] as DataplaneProcess;
  return fetch(`${target.baseURL}/chat/completions`, {
    dispatcher: agent,
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify(body),
  });
}

describe(`${REPLICAS} replicas on one Redis`, () => {
  it('admit a 100 requests/minute limit within ±2%', async () => {
    const t0 = performance.now();
    const statuses = await Promise.all(
      Array.from({ length: 150 }, async (_, i) => {
        const r = await send(i, 'sk-rpm', {
          model: 'gpt-4o-mini',
          messages: [{ role: 'user', content: 'hi' }],
        });
        await r.arrayBuffer();
        return r.status;
      }),
    );
    const elapsed = performance.now() - t0;
    const admitted = statuses.filter((s) => s === 200).length;
    expect(statuses.filter((s) => s !== 200 && s !== 429)).toEqual([]);
    // GCRA refills one request per 600 ms at 100/minute; a slow machine earns those back honestly.
    const refilled = Math.floor(elapsed / 600);
    console.log(
      `requests: ${admitted} admitted of 150 in ${Math.round(elapsed)} ms (refill allowance ${refilled})`,
    );
    expect(admitted).toBeGreaterThanOrEqual(98);
    expect(admitted).toBeLessThanOrEqual(102 + refilled);
  });

  it('count refused requests against the shared request rate, whichever replica refused them', async () => {
    // 30 invalid requests (no messages), spread over the replicas at once: each is refused for what
    // it is and charged to the one bucket in Redis
    const refused = await Promise.all(
      Array.from({ length: 30 }, async (_, i) => {
        const r = await send(i, 'sk-bad', { model: 'gpt-4o-mini' });
        await r.arrayBuffer();
        return r.status;
      }),
    );
    expect(refused).toEqual(Array.from({ length: 30 }, () => 400));
    // the charge follows the answer: let the last ones land
    await sleep(200);
    for (let i = 0; i < REPLICAS; i++) {
      const r = await send(i, 'sk-bad', {
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'hi' }],
      });
      await r.arrayBuffer();
      expect(r.status).toBe(429);
      expect(r.headers.get('x-sluice-limit')).toBe('rpd-30/requests');
    }
  });

  it('admit a 10,000 tokens/minute limit within ±2%, counted identically in Redis', async () => {
    // A fixed minute window must not roll over mid-test: start early in a minute.
    const intoMinute = Date.now() % 60_000;
    if (intoMinute > 30_000) await sleep(60_000 - intoMinute + 200);
    const prompt = agreeingPrompt();
    const body = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: prompt.text }], max_tokens: 50 };
    let charged = 0;
    let admitted = 0;
    let next = 0;
    // 24 concurrent clients (8 per replica), each going until it has been refused three times.
    await Promise.all(
      Array.from({ length: 24 }, async () => {
        for (let refusals = 0; refusals < 3 && next < 400; ) {
          const r = await send(next++, 'sk-tpm', body);
          const json = (await r.json()) as { usage?: { prompt_tokens: number; completion_tokens: number } };
          if (r.status === 429) {
            refusals++;
            continue;
          }
          expect(r.status).toBe(200);
          admitted++;
          charged += (json.usage?.prompt_tokens ?? 0) + (json.usage?.completion_tokens ?? 0);
        }
      }),
    );
    console.log(
      `tokens: ${charged} charged by ${admitted} admitted requests (prompt ${prompt.tokens} tokens)`,
    );
    expect(charged).toBeGreaterThanOrEqual(9_800);
    expect(charged).toBeLessThanOrEqual(10_200);
    const client = new Redis(redis.url);
    try {
      const keys = await client.keys('sluice:{tpm}:tpm-10k:total:*');
      expect(keys).toHaveLength(1);
      expect(Number(await client.get(keys[0] as string))).toBe(charged);
    } finally {
      client.disconnect();
    }
    // it may first wait up to 30 s for the start of a minute
  }, 90_000);
});
