// The provider setting rateLimitHeaders (schema) and how it is resolved against the namespaces that can
// reach a provider; the HTTP behaviour is in test/dataplane/upstream_headers.test.ts.
import { describe, expect, it } from 'vitest';
import { ConfigError, validateConfig } from '../config/load.ts';
import { rateLimitHeaderProviders } from './rate_limit_headers.ts';

const key = (n: number) => ({ apiKeys: [{ name: 'k', sha256: String(n).repeat(64).slice(0, 64) }] });

function cfg(provider: object, namespaces: object[]) {
  const p = { type: 'openai', credentials: { apiKey: { env: 'K' } } };
  return {
    ...(namespaces.length ? {} : { access: 'open' }),
    providers: [
      { name: 'a', ...p, ...provider },
      { name: 'b', ...p },
    ],
    routes: [
      { name: 'ra', match: { models: ['x'] }, backends: [{ provider: 'a' }] },
      { name: 'rb', match: { models: ['y'] }, backends: [{ provider: 'b' }], fallback: [{ provider: 'a' }] },
    ],
    namespaces,
  };
}

describe('providers[].rateLimitHeaders', () => {
  it('takes single-tenant, always, never; absent means single-tenant', () => {
    for (const v of ['single-tenant', 'always', 'never'])
      expect(validateConfig(cfg({ rateLimitHeaders: v }, [])).providers[0]?.rateLimitHeaders).toBe(v);
    expect(validateConfig(cfg({}, [])).providers[0]?.rateLimitHeaders).toBeUndefined();
  });

  it('names the field when the value is unknown', () => {
    let issues: Array<{ path: string }> = [];
    try {
      validateConfig(cfg({ rateLimitHeaders: 'sometimes' }, []));
    } catch (err) {
      if (err instanceof ConfigError) issues = err.issues;
    }
    expect(issues.map((i) => i.path)).toContain('providers[0].rateLimitHeaders');
  });
});

describe('rateLimitHeaderProviders', () => {
  const names = (c: object) => [...rateLimitHeaderProviders(validateConfig(c))].sort();

  it('passes on an open gateway and with one tenant', () => {
    expect(names(cfg({}, []))).toEqual(['a', 'b']);
    expect(names(cfg({}, [{ name: 't1', match: key(1) }]))).toEqual(['a', 'b']);
  });

  it('counts a tenant that reaches the provider only as a fallback', () => {
    const two = [
      { name: 't1', match: key(1), routes: ['ra'] },
      { name: 't2', match: key(2), routes: ['rb'] },
    ];
    expect(names(cfg({}, two))).toEqual(['b']);
    expect(names(cfg({ rateLimitHeaders: 'always' }, two))).toEqual(['a', 'b']);
  });

  it('never passes with never', () => {
    expect(names(cfg({ rateLimitHeaders: 'never' }, []))).toEqual(['b']);
  });
});
