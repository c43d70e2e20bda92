// Fail-closed rendering and the platform's egress policy, at the renderer (the real-API-server side
// is test/operator/tenancy_security.test.ts): what `access` is rendered, which rejected tenants stay
// in the config as `rejected` entries, and providers the egress policy refuses.
import { describe, expect, it } from 'vitest';
import type { AINamespace } from '../api/ainamespace.ts';
import { render } from './render.ts';
import { inventory, provider, route, tenant } from './test_fixtures.ts';

const OPTS = { secretsDir: '/etc/sluice/secrets' };
const secrets = { 'team-a/p-key': { apiKey: 'k' }, 'team-a/q-key': { apiKey: 'k' } };
const withCreation = (o: AINamespace, t: string): AINamespace => ({
  ...o,
  metadata: { ...o.metadata, creationTimestamp: t },
});

describe('access', () => {
  it('is open only when the platform asks for it and no AINamespace exists, not even a rejected one', () => {
    const base = { providers: [provider('p')], routes: [route('r', ['p'])], secrets };
    const open = { ...OPTS, base: { access: 'open' as const } };
    expect(render(inventory(base), open).config?.access).toBe('open');
    expect(render(inventory(base), OPTS).config?.access).toBe('tenants');
    const rejectedOnly = inventory({
      ...base,
      namespaces: [tenant('t', { default: true, policies: ['gone'] })],
    });
    const r = render(rejectedOnly, open);
    expect(r.config?.access).toBe('tenants');
    expect(r.config?.namespaces).toEqual([
      {
        name: 'team-a.t',
        default: true,
        match: {},
        policies: [],
        rejected: 'not rendered: AIPolicy "gone" not found',
      },
    ]);
  });
});

describe('rejected tenants', () => {
  it('keep their claimed headers as a rejected entry; a later copy gets one too, tried after it', () => {
    const headers = [{ name: 'X-Channel-Code', equals: 'ch-1' }];
    const r = render(
      inventory({
        providers: [provider('p')],
        routes: [route('r', ['p'])],
        namespaces: [
          withCreation(tenant('first', { match: { headers }, policies: ['gone'] }), '2026-01-01T00:00:00Z'),
          withCreation(tenant('copy', { match: { headers } }, 'team-z'), '2026-02-01T00:00:00Z'),
        ],
        secrets,
      }),
      OPTS,
    );
    expect(r.outcomes.find((o) => o.name === 'copy')?.accepted).toMatchObject({
      ok: false,
      reason: 'Conflicted',
    });
    // both only refuse; the older one's claim is what kept the copy from being accepted
    // (header_conflicts.test.ts: the dataplane tries served entries first)
    expect(r.config?.namespaces.map((n) => [n.name, n.match.headers, n.rejected !== undefined])).toEqual([
      ['team-a.first', headers, true],
      ['team-z.copy', headers, true],
    ]);
  });
});

describe('the same second', () => {
  it('a tenant already serving keeps its headers over a new one, whatever the names', () => {
    const headers = [{ name: 'X-Channel-Code', equals: 'ch-1' }];
    const t = '2026-01-01T00:00:00Z';
    const serving = withCreation(tenant('team-b', { match: { headers } }, 'zzz'), t);
    serving.status = {
      conditions: [
        { type: 'Accepted', status: 'True', reason: 'Accepted', message: '', lastTransitionTime: t },
      ],
    };
    const r = render(
      inventory({
        providers: [provider('p')],
        routes: [route('r', ['p'])],
        namespaces: [serving, withCreation(tenant('aaa', { match: { headers } }, 'aaa'), t)],
        secrets,
      }),
      OPTS,
    );
    expect(r.outcomes.find((o) => o.namespace === 'aaa')?.accepted.reason).toBe('Conflicted');
    expect(r.outcomes.find((o) => o.namespace === 'zzz')?.accepted.ok).toBe(true);
  });
});

describe('egress', () => {
  it('rejects a provider the platform policy denies, and the routes using it, naming the rule', () => {
    const r = render(
      inventory({
        providers: [provider('p', { baseUrl: 'http://10.0.0.5:8000/v1' }), provider('q')],
        routes: [route('inside', ['p']), route('outside', ['q'])],
        secrets,
      }),
      { ...OPTS, base: { egress: { deny: ['10.0.0.0/8'] } } },
    );
    const p = r.outcomes.find((o) => o.name === 'p');
    expect(p?.accepted.ok).toBe(false);
    expect(p?.accepted.message).toContain('egress policy denies 10.0.0.5: egress.deny "10.0.0.0/8"');
    expect(r.outcomes.find((o) => o.name === 'inside')?.accepted.ok).toBe(false);
    expect(r.config?.providers.map((x) => x.name)).toEqual(['team-a.q']);
    expect(r.config?.egress).toEqual({ deny: ['10.0.0.0/8'] });
  });
});
