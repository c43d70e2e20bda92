// Ready means warm (issue 12): a `sluice serve` process says ready only once its Redis scripts are
// loaded, the tokenizer tables of its configured models are loaded and the admission path has run,
// and the decision is one function (compiled/readiness.ts) whatever port reports it.
import { describe, expect, it } from 'vitest';
import { decideReadiness } from '../../dataplane/src/compiled/readiness.ts';
import { configDir, spawnDataplane } from '../helpers/dataplane.ts';
import { startRedis } from '../helpers/redis.ts';
import { sha256, tenantConfig } from '../policy/fixtures.ts';

describe('readiness decision', () => {
  const warm = { encodings: ['o200k_base' as const], ms: 1 };
  const shared = { type: 'redis' as const, healthy: true, mode: 'shared' as const, scriptsLoaded: true };
  it('is ready only when warm, not draining, and a shared Redis has its scripts', () => {
    expect(decideReadiness({ draining: false, warm, store: shared })).toEqual({ ready: true });
    expect(decideReadiness({ draining: false, warm: undefined, store: shared })).toMatchObject({
      ready: false,
    });
    expect(decideReadiness({ draining: true, warm, store: shared })).toMatchObject({ ready: false });
    expect(
      decideReadiness({ draining: false, warm, store: { ...shared, scriptsLoaded: false } }),
    ).toMatchObject({ ready: false, reason: 'Redis scripts not loaded' });
    // a Redis outage is the documented fail-open/fail-closed behaviour, not a reason to leave the Service
    expect(
      decideReadiness({
        draining: false,
        warm,
        store: { ...shared, healthy: false, mode: 'local-fallback' },
      }),
    ).toEqual({ ready: true });
    expect(decideReadiness({ draining: false, warm, store: undefined })).toEqual({ ready: true });
  });
});

describe('a fresh replica', () => {
  it('is warm by the time it is ready: scripts loaded, tokenizer loaded, no script sent by source', async () => {
    const redis = await startRedis();
    const cfg = configDir(
      tenantConfig({
        store: { type: 'redis', redis: { url: redis.url } },
        namespaces: [
          { name: 'ns', match: { apiKeys: [{ name: 'k', sha256: sha256('sk-ns') }] }, policies: ['p'] },
        ],
        policies: [{ name: 'p', tokens: [{ limit: 1_000_000, window: 'day', kind: 'total' }] }],
      }),
    );
    const dp = await spawnDataplane(cfg.file);
    try {
      const r = await fetch(`${dp.adminUrl}/readyz`);
      const body = (await r.json()) as {
        warm?: { encodings: string[] };
        policy: { store: { scriptsLoaded?: boolean; mode: string } };
      };
      expect(r.status).toBe(200);
      expect(body.warm?.encodings).toContain('o200k_base');
      expect(body.policy.store).toMatchObject({ mode: 'shared', scriptsLoaded: true });
      const answers = await Promise.all(
        Array.from({ length: 20 }, () =>
          fetch(`${dp.baseURL}/chat/completions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: 'Bearer sk-ns' },
            body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
          }).then((x) => x.status),
        ),
      );
      expect(answers).toEqual(answers.map(() => 200));
      // every admission and settlement ran by EVALSHA on a script loaded at start: none by source
      const stats = redis.cli('INFO', 'commandstats');
      expect(stats).toMatch(/cmdstat_evalsha:calls=\d+/);
      expect(stats).not.toMatch(/cmdstat_eval:calls/);
    } finally {
      await dp.stop();
      await redis.stop();
      cfg.cleanup();
    }
  });
});
