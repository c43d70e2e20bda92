// AINamespace spec.limits (issue 13): the tenant's body limit reaches the dataplane config, where it
// can only lower the gateway's own server.bodyLimitBytes; the CRD refuses absurd values.
import { describe, expect, it } from 'vitest';
import { parseConfigText, validateConfig } from '../../../dataplane/src/config/load.ts';
import { aiNamespaceKind } from '../api/ainamespace.ts';
import { render } from './render.ts';
import { inventory, provider, route, tenant } from './test_fixtures.ts';

const OPTS = { secretsDir: '/etc/sluice/secrets' };

describe('AINamespace limits', () => {
  it('renders limits.maxBodyBytes into the namespace, and nothing when unset', () => {
    const r = render(
      inventory({
        providers: [provider('p')],
        routes: [route('r', ['p'])],
        namespaces: [
          tenant('small', {
            match: { headers: [{ name: 'x-team', values: ['s'] }] },
            limits: { maxBodyBytes: 65_536 },
          }),
          tenant('plain', { match: { headers: [{ name: 'x-team', values: ['p'] }] } }),
        ],
        secrets: { 'team-a/p-key': { apiKey: 'k' } },
      }),
      OPTS,
    );
    expect(r.outcomes.filter((o) => !o.accepted.ok)).toEqual([]);
    const loaded = validateConfig(parseConfigText(r.configText, 'config.yaml'));
    expect(loaded.namespaces.find((n) => n.name.endsWith('small'))?.limits).toEqual({ maxBodyBytes: 65_536 });
    expect(loaded.namespaces.find((n) => n.name.endsWith('plain'))?.limits).toBeUndefined();
  });

  it('the CRD schema bounds the value', () => {
    const limits = (aiNamespaceKind.spec.properties?.limits?.properties ?? {}) as Record<
      string,
      { minimum?: number; maximum?: number; type?: string }
    >;
    expect(limits.maxBodyBytes).toMatchObject({ type: 'integer', minimum: 1024, maximum: 1024 ** 3 });
  });
});
