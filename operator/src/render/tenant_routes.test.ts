// A tenant's spec.routes naming a route that is missing or not accepted: the route is left out of
// the tenant's list and the rest keeps serving. Before, the whole tenant was rejected, so the
// platform deleting (or breaking) one route made every request of every tenant listing it a 403.
import { describe, expect, it } from 'vitest';
import { render } from './render.ts';
import { inventory, provider, route, tenant } from './test_fixtures.ts';

const OPTS = { secretsDir: '/s' };

describe('a tenant route that does not resolve', () => {
  it('is left out of the tenant, which stays accepted with ResolvedRefs=False naming it', () => {
    const inv = inventory({
      providers: [provider('p')],
      routes: [route('chat', ['p']), route('broken', ['missing-provider'])],
      namespaces: [
        tenant('t', {
          match: { headers: [{ name: 'X-T', equals: 't' }] },
          routes: ['chat', 'deleted', 'broken'],
        }),
      ],
      secrets: { 'team-a/p-key': { apiKey: 'a' } },
    });
    const r = render(inv, OPTS);
    const t = r.outcomes.find((o) => o.key === 'AINamespace/team-a/t');
    expect(t?.accepted).toEqual({
      ok: true,
      reason: 'AcceptedWithoutUnresolved',
      message:
        'rendered into the dataplane config as team-a.t without spec.routes[1], spec.routes[2]: AIRoute "deleted" not found; AIRoute "broken" is not accepted (InvalidRefs)',
    });
    expect(t?.resolvedRefs).toMatchObject({ ok: false, reason: 'RefNotFound' });
    const entry = r.config?.namespaces.find((n) => n.name === 'team-a.t');
    expect(entry?.routes).toEqual(['team-a.chat']);
    expect(entry?.rejected).toBeUndefined();
  });

  it('leaves a tenant whose listed routes are all gone with no route at all (never every route)', () => {
    const inv = inventory({
      providers: [provider('p')],
      routes: [route('chat', ['p'])],
      namespaces: [tenant('t', { match: { headers: [{ name: 'X-T', equals: 't' }] }, routes: ['deleted'] })],
      secrets: { 'team-a/p-key': { apiKey: 'a' } },
    });
    const entry = render(inv, OPTS).config?.namespaces.find((n) => n.name === 'team-a.t');
    expect(entry?.routes).toEqual([]);
  });
});
