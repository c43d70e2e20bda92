// Platform policies: every AIPolicy in the platform's namespace applies to every tenant, on top of
// its own. Tenant admins write AINamespace and AIPolicy in their namespace, so without these the
// only limits on a tenant were the ones it chose to keep (an AINamespace without policies ran
// without any limit on the platform's providers).
import { describe, expect, it } from 'vitest';
import { render } from './render.ts';
import { inventory, policy, provider, route, tenant } from './test_fixtures.ts';

const PLATFORM = 'sluice-system';
const OPTS = { secretsDir: '/s', platformNamespace: PLATFORM };

function setup(ceiling = policy('ceiling', { budget: { usd: 100, window: 'month' } }, PLATFORM)) {
  return inventory({
    providers: [provider('p')],
    routes: [route('r', ['p'])],
    policies: [policy('limits'), ceiling, policy('second', {}, PLATFORM)],
    namespaces: [
      tenant('bare', { match: { headers: [{ name: 'X-T', equals: 'bare' }] } }),
      tenant('own', { match: { headers: [{ name: 'X-T', equals: 'own' }] }, policies: ['limits'] }),
      tenant(
        'home',
        { match: { headers: [{ name: 'X-T', equals: 'home' }] }, policies: ['ceiling'] },
        PLATFORM,
      ),
    ],
    secrets: { 'team-a/p-key': { apiKey: 'a' } },
  });
}

const policiesOf = (r: ReturnType<typeof render>) =>
  Object.fromEntries((r.config?.namespaces ?? []).map((n) => [n.name, n.policies]));

describe('platform policies', () => {
  it('apply to every tenant after its own, and once to a tenant of the platform namespace', () => {
    const r = render(setup(), OPTS);
    expect(r.outcomes.filter((o) => !o.accepted.ok)).toEqual([]);
    expect(policiesOf(r)).toEqual({
      'team-a.bare': ['sluice-system.ceiling', 'sluice-system.second'],
      'team-a.own': ['team-a.limits', 'sluice-system.ceiling', 'sluice-system.second'],
      'sluice-system.home': ['sluice-system.ceiling', 'sluice-system.second'],
    });
  });

  it('are not applied without a platform namespace (a tenant has only its own)', () => {
    expect(policiesOf(render(setup(), { secretsDir: '/s' }))).toEqual({
      'team-a.bare': [],
      'team-a.own': ['team-a.limits'],
      'sluice-system.home': ['sluice-system.ceiling'],
    });
  });

  it('fail every tenant closed while one is not accepted, naming it', () => {
    const broken = policy(
      'ceiling',
      { scope: { routes: ['missing'] }, budget: { usd: 1, window: 'day' } },
      PLATFORM,
    );
    const r = render(setup(broken), OPTS);
    const bare = r.outcomes.find((o) => o.key === 'AINamespace/team-a/bare');
    expect(bare?.accepted).toMatchObject({
      ok: false,
      reason: 'InvalidRefs',
      message: 'not rendered: platform AIPolicy "sluice-system/ceiling" is not accepted (InvalidRefs)',
    });
    expect(bare?.problems).toEqual([
      {
        path: 'spec.policies',
        message: 'platform AIPolicy "sluice-system/ceiling" is not accepted (InvalidRefs)',
      },
    ]);
    // rendered as rejected entries (403), never served without the platform's limits
    expect(r.config?.namespaces.every((n) => n.rejected !== undefined)).toBe(true);
  });

  it("leave the default tenant to the platform namespace: a tenant admin's default is refused", () => {
    const inv = inventory({
      providers: [provider('p')],
      routes: [route('r', ['p'])],
      namespaces: [
        // older than the platform's: without a platform namespace it would be the default
        tenant('grab', { default: true }),
        tenant('anonymous', { default: true }, PLATFORM),
      ],
      secrets: { 'team-a/p-key': { apiKey: 'a' } },
    });
    const r = render(inv, OPTS);
    expect(r.outcomes.find((o) => o.key === 'AINamespace/team-a/grab')?.problems).toEqual([
      {
        path: 'spec.default',
        message: 'only an AINamespace in the platform namespace "sluice-system" may be the default',
      },
    ]);
    expect(r.outcomes.find((o) => o.key === 'AINamespace/sluice-system/anonymous')?.accepted.ok).toBe(true);
    expect(r.config?.namespaces.map((n) => [n.name, n.default, n.rejected !== undefined])).toEqual([
      ['sluice-system.anonymous', true, false],
      ['team-a.grab', false, true],
    ]);
    // without a platform namespace the older one keeps the default, as before
    const before = render(inv, { secretsDir: '/s' });
    expect(
      before.outcomes.find((o) => o.key === 'AINamespace/sluice-system/anonymous')?.accepted.reason,
    ).toBe('Conflicted');
  });
});
