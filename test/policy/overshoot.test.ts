// The concurrent-overshoot test (Envoy AI Gateway issue #680: concurrent requests all pass a token
// check before any records usage). Here 60 requests arrive at once against a 2,000-token window; every
// one is admitted only with its input + possible output reserved atomically, so the tokens charged for
// all admitted requests never exceed the limit — with the in-memory store and with real Redis.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InProcessDataplane, startDataplane } from '../helpers/dataplane.ts';
import { type RedisServer, startRedis } from '../helpers/redis.ts';
import { client, sha256, tenantConfig } from './fixtures.ts';

const LIMIT = 2_000;
const REQUESTS = 60;
// Digits tokenize at ~3 per token in o200k, so Sluice's count is above the mock's 4-chars-a-token
// report: reconciliation only ever gives tokens back, which keeps the check about concurrency.
const PROMPT = '1234567890'.repeat(20);

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(() => redis?.stop());

async function run(store: unknown): Promise<void> {
  let dp: InProcessDataplane | undefined;
  try {
    dp = await startDataplane(
      tenantConfig({
        store,
        mock: { latencyMs: 300, outputTokens: 50, chunkTokens: 5 },
        namespaces: [
          {
            name: 'burst',
            match: { apiKeys: [{ name: 'k', sha256: sha256('sk-burst') }] },
            policies: ['tpm'],
          },
        ],
        policies: [{ name: 'tpm', tokens: [{ limit: LIMIT, window: 'day', kind: 'total' }] }],
      }),
    );
    const sdk = client(dp.baseURL, 'sk-burst');
    const messages = [{ role: 'user' as const, content: PROMPT }];
    const outcomes = await Promise.all(
      Array.from({ length: REQUESTS }, async (_, i) => {
        try {
          if (i % 2 === 0) {
            const r = await sdk.chat.completions.create({ model: 'gpt-4o-mini', messages, max_tokens: 50 });
            return { ok: true, tokens: (r.usage?.prompt_tokens ?? 0) + (r.usage?.completion_tokens ?? 0) };
          }
          const s = await sdk.chat.completions.create({
            model: 'gpt-4o-mini',
            messages,
            max_tokens: 50,
            stream: true,
            stream_options: { include_usage: true },
          });
          let tokens = 0;
          for await (const c of s) if (c.usage) tokens = c.usage.prompt_tokens + c.usage.completion_tokens;
          return { ok: true, tokens };
        } catch (err) {
          expect((err as { status?: number }).status).toBe(429);
          return { ok: false, tokens: 0 };
        }
      }),
    );
    const admitted = outcomes.filter((o) => o.ok);
    const charged = admitted.reduce((s, o) => s + o.tokens, 0);
    expect(admitted.every((o) => o.tokens > 0)).toBe(true);
    expect(charged).toBeLessThanOrEqual(LIMIT);
    // The limit bit: without reservations all 60 (~6,500 tokens) would have been let through.
    expect(admitted.length).toBeLessThan(REQUESTS);
    // And it is not over-strict: each request reserves at most 73 + 50 tokens, so at least 16 fit.
    expect(admitted.length).toBeGreaterThanOrEqual(Math.floor(LIMIT / 123));
  } finally {
    await dp?.stop();
  }
}

describe('concurrent requests against a token budget', () => {
  it('never overshoot with the in-memory store', () => run({ type: 'memory' }));
  it('never overshoot with Redis', () =>
    run({ type: 'redis', redis: { url: redis.url, commandTimeoutMs: 2_000, keyPrefix: 'overshoot:' } }));
});
