// AIProvider.spec.service / endpointPicking / suspended and AIRoute backend `suspended` render into the
// dataplane config (which the dataplane's schema accepts) and into a Suspended status condition.
import { describe, expect, it } from 'vitest';
import { buildStatus } from '../controller/status.ts';
import { render } from './render.ts';
import { inventory, provider, route } from './test_fixtures.ts';

const OPTS = { secretsDir: '/etc/sluice/secrets' };
const vllm = (extra: Record<string, unknown> = {}) =>
  provider('llama', {
    type: 'vllm',
    credentials: undefined,
    service: { name: 'llama', portName: 'http', path: '/v1' },
    endpointPicking: { picker: 'least-load', loadMetrics: { interval: '2s' } },
    ...extra,
  });

describe('self-hosted providers', () => {
  it('renders a Service reference in the provider namespace, with picking and load metrics', () => {
    const r = render(inventory({ providers: [vllm()], routes: [route('chat', ['llama'])] }), OPTS);
    const p = r.config?.providers[0];
    expect(p?.baseUrl).toBeUndefined();
    expect(p?.endpoints).toEqual({
      kubernetes: { namespace: 'team-a', service: 'llama', port: 'http', scheme: 'http' },
      basePath: '/v1',
      picker: 'least-load',
      loadMetrics: { path: '/metrics', intervalMs: 2000, timeoutMs: 500 },
    });
    expect(p?.suspended).toBeUndefined();
  });

  it('suspended providers and backends reach the config and a Suspended=True condition', () => {
    const r = render(
      inventory({
        providers: [vllm({ suspended: true }), provider('backup', { type: 'mock', credentials: undefined })],
        routes: [
          route('chat', ['llama', 'backup'], {
            backends: [
              { providerRef: { name: 'llama' } },
              { providerRef: { name: 'backup' }, suspended: true },
            ],
          }),
        ],
      }),
      OPTS,
    );
    expect(r.config?.providers.find((p) => p.name === 'team-a.llama')?.suspended).toBe(true);
    expect(r.config?.routes[0]?.backends.map((b) => b.suspended)).toEqual([undefined, true]);
    const byKey = new Map(r.outcomes.map((o) => [o.key, o]));
    const prov = byKey.get('AIProvider/team-a/llama');
    const rt = byKey.get('AIRoute/team-a/chat');
    expect(prov?.suspended).toMatch(/next backends and its fallback chain/);
    expect(rt?.suspended).toBe('suspended: backends[1] (backup); 1 balanced backend(s) serve instead');
    const programmed = { ok: true, reason: 'Programmed', message: 'served' };
    const status = buildStatus(
      prov as NonNullable<typeof prov>,
      programmed,
      undefined,
      '2026-01-01T00:00:00Z',
    );
    expect(status.conditions?.find((c) => c.type === 'Suspended')).toMatchObject({
      status: 'True',
      reason: 'Suspended',
      observedGeneration: 1,
    });
    // switched off again: the condition goes away
    const back = buildStatus(
      { ...(prov as NonNullable<typeof prov>), suspended: undefined },
      programmed,
      status,
    );
    expect(back.conditions?.some((c) => c.type === 'Suspended')).toBe(false);
    // an unsuspended backup provider has no Suspended condition at all
    expect(byKey.get('AIProvider/team-a/backup')?.suspended).toBeUndefined();
  });
});
