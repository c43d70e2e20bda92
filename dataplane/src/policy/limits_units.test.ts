import { describe, expect, it } from 'vitest';
import { policySchema } from '../config/schema.ts';
import { formatDuration, windowSpan } from '../store/windows.ts';
import { actualAmount, buildBatch, reservationId } from './batch.ts';
import { apiKeyCaller } from './caller.ts';
import { compileNamespaces } from './compile.ts';
import { EstimateCorrection } from './correction.ts';
import { rateLimitHeaders, retryAfter } from './headers.ts';
import { costMicroUsd } from './pricing.ts';

describe('windows', () => {
  it('aligns to UTC calendar units; a month is the calendar month', () => {
    const t = Date.UTC(2024, 1, 29, 23, 59, 59, 500); // leap day
    expect(windowSpan('minute', t)).toMatchObject({
      startMs: Date.UTC(2024, 1, 29, 23, 59),
      endMs: Date.UTC(2024, 2, 1),
    });
    expect(windowSpan('day', t)).toMatchObject({
      startMs: Date.UTC(2024, 1, 29),
      endMs: Date.UTC(2024, 2, 1),
    });
    expect(windowSpan('month', t)).toEqual({
      id: 'M202402',
      startMs: Date.UTC(2024, 1, 1),
      endMs: Date.UTC(2024, 2, 1),
    });
    expect(windowSpan('month', Date.UTC(2024, 11, 31, 12))).toMatchObject({
      id: 'M202412',
      endMs: Date.UTC(2025, 0, 1),
    });
  });

  it('formats resets like OpenAI', () => {
    expect(formatDuration(20)).toBe('20ms');
    expect(formatDuration(1_000)).toBe('1s');
    expect(formatDuration(360_000)).toBe('6m0s');
    expect(formatDuration(3_723_000)).toBe('1h2m3s');
    expect(retryAfter(1)).toBe('1');
    expect(retryAfter(1_001)).toBe('2');
  });
});

describe('headers', () => {
  it('describes the tightest limit of each kind', () => {
    const h = rateLimitHeaders(
      [
        { limit: 600, remaining: 599, resetMs: 100 },
        { limit: 60, remaining: 59, resetMs: 1_000 },
      ],
      [{ limit: 1000, remaining: -5, resetMs: 30_000 }],
    );
    expect(h).toEqual({
      'x-ratelimit-limit-requests': '60',
      'x-ratelimit-remaining-requests': '59',
      'x-ratelimit-reset-requests': '1s',
      'x-ratelimit-limit-tokens': '1000',
      'x-ratelimit-remaining-tokens': '0',
      'x-ratelimit-reset-tokens': '30s',
    });
  });
});

function policies(list: unknown[]) {
  const cfg = {
    providers: [],
    routes: [{ name: 'r' }],
    namespaces: [{ name: 'ns', policies: list.map((p) => (p as { name: string }).name) }],
    policies: list.map((p) => policySchema.parse(p)),
    store: { type: 'memory' as const },
  };
  return compileNamespaces(cfg as never).get('ns')?.policies ?? [];
}

describe('batches', () => {
  const now = Date.UTC(2025, 0, 15, 12, 0, 30);
  it('turns every limit into one store entry with the namespace as hash tag', () => {
    const built = buildBatch({
      namespace: 'ns',
      caller: apiKeyCaller('key/1'),
      policies: policies([
        {
          name: 'p',
          scope: { perApiKey: true },
          requests: { limit: 120, window: 'minute', burst: 10 },
          concurrency: { max: 3 },
          tokens: [
            { limit: 1000, window: 'minute', kind: 'input' },
            { limit: 500, window: 'hour', kind: 'output' },
            { limit: 9000, window: 'day' },
          ],
          budget: { usd: 2, window: 'month' },
        },
      ]),
      inputTokens: 40,
      prices: { input: 2.5, output: 10 },
      wantOutput: 100,
      now,
      requestId: 'req-1',
    });
    expect(built.batch.rates).toEqual([
      { key: '{ns}:p:rq:120/minute/10:k:key%2F1', emissionMs: 500, burst: 10 },
    ]);
    expect(built.batch.concurrency[0]).toMatchObject({ key: '{ns}:p:cc:k:key%2F1', max: 3, id: 'req-1' });
    expect(built.batch.windows.map((w) => [w.key, w.limit, w.fixed, w.perOutput])).toEqual([
      [`{ns}:p:input:m${Math.floor(now / 60_000)}:k:key%2F1`, 1000, 40, 0],
      [`{ns}:p:output:h${Math.floor(now / 3_600_000)}:k:key%2F1`, 500, 0, 1],
      [`{ns}:p:total:d${Math.floor(now / 86_400_000)}:k:key%2F1`, 9000, 40, 1],
      ['{ns}:p:usd:M202501:k:key%2F1', 2_000_000, 100, 10],
    ]);
    expect(built.batch.windows[0]?.resetMs).toBe(30_000);
    expect(built.batch.wantOutput).toBe(100);
  });

  it('reserves no output when no window counts output', () => {
    const built = buildBatch({
      namespace: 'ns',
      caller: undefined,
      policies: policies([{ name: 'q', tokens: [{ limit: 10, window: 'day', kind: 'input' }] }]),
      inputTokens: 5,
      prices: undefined,
      wantOutput: 4096,
      now,
      requestId: 'r',
    });
    expect(built.batch.wantOutput).toBe(0);
  });

  it('measures real usage per window kind', () => {
    const usage = { inputTokens: 100, outputTokens: 20, cachedInputTokens: 40 };
    expect(actualAmount('input', usage, 0)).toBe(100);
    expect(actualAmount('output', usage, 0)).toBe(20);
    expect(actualAmount('total', usage, 0)).toBe(120);
    expect(actualAmount('total', undefined, 0)).toBe(0);
    // 60 uncached x 2 + 40 cached x 0.5 + 20 output x 8 micro-USD
    expect(costMicroUsd(usage, { inputPerMTok: 2, cachedInputPerMTok: 0.5, outputPerMTok: 8 })).toBe(300);
  });
});

describe('policy compilation', () => {
  it('reports bad regexes and unknown scoped routes with their paths', () => {
    expect(() =>
      policies([
        { name: 'bad', contentFilters: [{ name: 'x', pattern: '(' }] },
        { name: 'scoped', scope: { routes: ['nope'] } },
      ]),
    ).toThrow(
      /policies\[0\]\.contentFilters\[0\]\.pattern[\s\S]*policies\[1\]\.scope\.routes\[0\]: unknown route "nope"/,
    );
  });

  it('strips stateful regex flags so a filter matches on every request', () => {
    const [p] = policies([{ name: 'f', contentFilters: [{ name: 'x', pattern: 'secret', flags: 'gi' }] }]);
    const re = p?.filters[0]?.re as RegExp;
    expect(re.flags).toBe('i');
    expect(re.test('SECRET') && re.test('SECRET')).toBe(true);
  });
});

describe('estimate correction', () => {
  it('moves estimates toward what the provider reports, within bounds', () => {
    const c = new EstimateCorrection();
    expect(c.apply('ns', 'claude', 100)).toBe(100);
    c.observe('ns', 'claude', 100, 130);
    expect(c.apply('ns', 'claude', 100)).toBe(130);
    for (let i = 0; i < 30; i++) c.observe('ns', 'claude', 100, 120);
    expect(c.apply('ns', 'claude', 100)).toBeGreaterThanOrEqual(120);
    expect(c.apply('ns', 'claude', 100)).toBeLessThanOrEqual(121);
    c.observe('ns', 'wild', 10, 10_000);
    expect(c.factor('ns', 'wild')).toBe(3);
  });

  it("learns each tenant's ratio from its own traffic only", () => {
    const c = new EstimateCorrection();
    for (let i = 0; i < 10; i++) c.observe('flooder', 'claude', 100, 10_000);
    expect(c.factor('flooder', 'claude')).toBe(3);
    expect(c.apply('neighbour', 'claude', 100)).toBe(100);
  });
});

describe('reservation ids', () => {
  it('never repeats, and stays out of the hash tag and JSON syntax', () => {
    const ids = new Set(Array.from({ length: 10_000 }, () => reservationId()));
    expect(ids.size).toBe(10_000);
    // a '{' or '}' would move the reservation key off its namespace's Cluster slot
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{16}[0-9a-z]+$/);
    // one random prefix per process: the counter alone tells its ids apart
    expect(new Set([...ids].map((id) => id.slice(0, 16))).size).toBe(1);
  });
});
