// A preflight issue that names no config entry (a replica throwing something other than a
// ConfigError while loading: the LoadCheck reports it with an empty path) used to throw a
// RenderError for the whole render: nothing written for anyone while one tenant's object caused it.
// Now it is traced to the AINamespace or AIPolicy behind it by loading parts of the config, and only
// that object is rejected; when the platform's part fails on its own the render still fails closed.
// The fault is injected through the operator's kept LoadCheck (what a real replica's unexpected
// exception becomes), since no input known today makes the dataplane throw one.
import { describe, expect, it } from 'vitest';
import {
  type ConfigIssue,
  LoadCheck,
  loadableIssues,
  type SluiceConfig,
  validateConfig,
} from '../../../dataplane/src/config/contract.ts';
import { renderChecked } from './preflight.ts';
import { RenderError } from './render.ts';
import { RenderReuse } from './reuse.ts';
import { inventory, policy, provider, route, tenant } from './test_fixtures.ts';

const THROWN = 'TypeError: Cannot read properties of undefined';

/** A replica that throws (reported with no path) whenever `faulty` says so of the config. */
class FaultyLoad extends LoadCheck {
  loads = 0;
  readonly faulty: (c: SluiceConfig) => boolean;
  constructor(faulty: (c: SluiceConfig) => boolean) {
    super();
    this.faulty = faulty;
  }
  override async issues(config: SluiceConfig, data: Record<string, string>): Promise<ConfigIssue[]> {
    this.loads++;
    if (this.faulty(config)) return [{ path: '', message: THROWN }];
    return super.issues(config, data);
  }
}

function withFault(faulty: (c: SluiceConfig) => boolean) {
  const reuse = new RenderReuse();
  const check = new FaultyLoad(faulty);
  (reuse as { preflight: LoadCheck }).preflight = check;
  return { opts: { secretsDir: '/s', reuse }, check };
}

const keys = (i: number) => ({ match: { apiKeys: { secretRefs: [{ name: `keys-${i}` }] } } });

function tenants(n: number, extra: Partial<Parameters<typeof tenant>[1]> = {}) {
  const secrets: Record<string, Record<string, string>> = { 'team-a/p-key': { apiKey: 'a' } };
  for (let i = 0; i < n; i++) secrets[`team-a/keys-${i}`] = { k: `sk-tenant-${i}` };
  return inventory({
    providers: [provider('p')],
    routes: [route('r', ['p'])],
    namespaces: Array.from({ length: n }, (_, i) =>
      tenant(`t${String(i).padStart(2, '0')}`, { ...keys(i), ...extra }),
    ),
    policies: [policy('limits'), policy('odd')],
    secrets,
  });
}

const has = (c: SluiceConfig, name: string) => c.namespaces.some((n) => n.name === name && !n.rejected);

describe('a preflight issue that names no entry', () => {
  it("is traced to the tenant whose entry causes it; every other tenant's config is written", async () => {
    const { opts, check } = withFault((c) => has(c, 'team-a.t13'));
    const r = await renderChecked(tenants(40), opts);
    const bad = r.outcomes.find((o) => o.key === 'AINamespace/team-a/t13');
    expect(bad?.accepted).toEqual({
      ok: false,
      reason: 'Invalid',
      message: `a dataplane replica cannot load it: (root): ${THROWN}`,
    });
    expect(r.outcomes.filter((o) => !o.accepted.ok).map((o) => o.key)).toEqual(['AINamespace/team-a/t13']);
    const config = r.config as SluiceConfig;
    expect(config.namespaces.filter((n) => !n.rejected)).toHaveLength(39);
    // its callers still get 403 (its rejected entry loads: the fault came with its served entry)
    expect(config.namespaces.find((n) => n.name === 'team-a.t13')?.rejected).toBeDefined();
    expect(await loadableIssues(config, r.secretData)).toEqual([]);
    // about 2 log2(40) loads to find it, not one per tenant
    expect(check.loads).toBeLessThan(20);
    await opts.reuse.close();
  });

  it('is traced to an AIPolicy; the tenants naming it fail closed (InvalidRefs), the others serve', async () => {
    const { opts } = withFault((c) => c.policies.some((p) => p.name === 'team-a.odd'));
    const inv = tenants(3);
    const namespaces = inv.namespaces.map((n, i) =>
      i === 1 ? { ...n, spec: { ...n.spec, policies: ['odd'] } } : n,
    );
    const r = await renderChecked({ ...inv, namespaces }, opts);
    const state = (key: string) => r.outcomes.find((o) => o.key === key)?.accepted.reason;
    expect(state('AIPolicy/team-a/odd')).toBe('Invalid');
    expect(state('AIPolicy/team-a/limits')).toBe('Accepted');
    expect(state('AINamespace/team-a/t01')).toBe('InvalidRefs');
    expect(state('AINamespace/team-a/t00')).toBe('Accepted');
    await opts.reuse.close();
  });

  it("drops even a tenant's rejected entry when that is what fails, and keeps the others", async () => {
    const { opts } = withFault((c) => c.namespaces.some((n) => n.name === 'team-a.t02'));
    const r = await renderChecked(tenants(5), opts);
    const config = r.config as SluiceConfig;
    expect(config.namespaces.map((n) => n.name)).toEqual([
      'team-a.t00',
      'team-a.t01',
      'team-a.t03',
      'team-a.t04',
    ]);
    expect(r.outcomes.find((o) => o.key === 'AINamespace/team-a/t02')?.accepted.ok).toBe(false);
    await opts.reuse.close();
  });

  it("still fails the whole render when the platform's part fails without any tenant object", async () => {
    const { opts } = withFault((c) => c.providers.length > 0);
    await expect(renderChecked(tenants(4), opts)).rejects.toThrow(RenderError);
    await expect(renderChecked(tenants(4), opts)).rejects.toThrow(
      `rendered config cannot be loaded: (root): ${THROWN}`,
    );
    await opts.reuse.close();
  });
});

describe('two default namespaces in a config', () => {
  it('are reported on the second one, an entry the operator can blame (not on "namespaces")', () => {
    const ns = (name: string) => ({ name, default: true, match: {} });
    expect(() =>
      validateConfig(
        {
          version: 1,
          access: 'tenants',
          providers: [{ name: 'p', type: 'openai', models: [{ name: 'm' }] }],
          routes: [{ name: 'r', backends: [{ provider: 'p' }] }],
          namespaces: [ns('a'), ns('b')],
        },
        'test',
      ),
    ).toThrow('namespaces[1].default: at most one namespace may be the default');
  });
});
