// The request observer turns lifecycle events into metrics and the access line, with the cost function
// the budgets use; an observer that throws never reaches the request path.
import { describe, expect, it, vi } from 'vitest';
import type { AccessEntry } from './access_log.ts';
import { attemptResponded, endExchange, exchangeEndObserved } from './lifecycle.ts';
import { registry } from './metrics.ts';
import { observeRequests } from './request_observer.ts';

async function sample(name: string, labels: Record<string, string>): Promise<number | undefined> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  const values = (metric?.values ?? []) as Array<{ value: number; labels: Record<string, unknown> }>;
  return values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value;
}

describe('request observer', () => {
  it('records an ended exchange as metrics, cost and one access line', async () => {
    observeRequests();
    observeRequests(); // subscribing twice must not count twice
    expect(exchangeEndObserved()).toBe(true);
    const lines: AccessEntry[] = [];
    endExchange(undefined, {
      status: 200,
      code: 'ok',
      requestId: 'r-1',
      api: 'openai-chat',
      seconds: 0.25,
      stream: true,
      route: 'chat',
      namespace: 'team-obs',
      provider: 'prov-obs',
      responseModel: 'gpt-4o-mini',
      usage: { inputTokens: 1_000, outputTokens: 500, cachedInputTokens: 400 },
      pricing: { inputPerMTok: 1, outputPerMTok: 4, cachedInputPerMTok: 0.5 },
      truncated: true,
      truncatedBy: 'budget',
      accessLog: (e) => lines.push(e),
    });
    attemptResponded('prov-obs', 503, 0.1);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      reqId: 'r-1',
      status: 200,
      inputTokens: 1_000,
      outputTokens: 500,
      ms: 250,
    });
    const ns = { namespace: 'team-obs' };
    expect(await sample('sluice_requests_total', { ...ns, status: '200' })).toBe(1);
    expect(await sample('sluice_tokens_total', { ...ns, type: 'cached_input' })).toBe(400);
    // (1000 - 400) x $1 + 400 x $0.5 + 500 x $4 per million tokens
    expect(await sample('sluice_cost_usd_total', ns)).toBeCloseTo(0.0028, 10);
    expect(await sample('sluice_stream_truncations_total', { ...ns, reason: 'budget' })).toBe(1);
    expect(
      await sample('sluice_upstream_attempts_total', { provider: 'prov-obs', outcome: 'http_5xx' }),
    ).toBe(1);
  });

  it('an observer that throws is reported once and the publisher goes on', () => {
    observeRequests();
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const broken = () => {
      throw new Error('disk full');
    };
    for (let i = 0; i < 3; i++)
      expect(() => endExchange(undefined, { status: 500, code: 'x', accessLog: broken })).not.toThrow();
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]?.[0])).toContain('disk full');
    warn.mockRestore();
  });
});
