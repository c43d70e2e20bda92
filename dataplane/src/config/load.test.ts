import { describe, expect, it } from 'vitest';
import { ConfigError, validateConfig } from './load.ts';

function issues(raw: unknown): Array<{ path: string; message: string }> {
  try {
    validateConfig(raw);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  return [];
}

const base = () => ({
  providers: [{ name: 'p', type: 'openai', credentials: { apiKey: { env: 'K' } } }],
  routes: [{ name: 'r', backends: [{ provider: 'p' }] }],
});

describe('config validation', () => {
  it('accepts a minimal config and fills defaults', () => {
    const cfg = validateConfig(base());
    expect(cfg.server.port).toBe(8080);
    expect(cfg.routes[0]?.strategy).toBe('weighted-random');
    expect(cfg.routes[0]?.retry.attempts).toBe(2);
  });

  it('names the path of every bad field', () => {
    const raw = base() as Record<string, unknown>;
    (raw.routes as Array<Record<string, unknown>>)[0] = {
      name: 'r',
      strategy: 'fastest',
      backends: [{ provider: 'p', weight: -1 }],
    };
    (raw.providers as Array<Record<string, unknown>>)[0] = { name: 'P!', type: 'openai', typo: 1 };
    const found = issues(raw).map((i) => i.path);
    expect(found).toEqual(
      expect.arrayContaining([
        'routes[0].strategy',
        'routes[0].backends[0].weight',
        'providers[0].name',
        'providers[0]',
      ]),
    );
  });

  it('checks references, duplicates, provider types and required credentials', () => {
    const raw = {
      providers: [
        { name: 'p', type: 'openai' },
        { name: 'p', type: 'nonsense' },
      ],
      routes: [{ name: 'r', backends: [{ provider: 'ghost', weight: 0 }], fallback: [{ provider: 'p2' }] }],
      namespaces: [{ name: 'n', policies: ['nope'], routes: ['missing'] }],
    };
    expect(issues(raw)).toEqual(
      expect.arrayContaining([
        { path: 'providers[1].name', message: 'duplicate name "p"' },
        { path: 'providers[1].type', message: 'unsupported provider type "nonsense"' },
        { path: 'providers[0].credentials.apiKey', message: 'required for provider type "openai"' },
        { path: 'routes[0].backends[0].provider', message: 'unknown provider "ghost"' },
        { path: 'routes[0].fallback[0].provider', message: 'unknown provider "p2"' },
        { path: 'routes[0].backends', message: 'at least one backend needs a weight above 0' },
        { path: 'namespaces[0].policies[0]', message: 'unknown policy "nope"' },
        { path: 'namespaces[0].routes[0]', message: 'unknown route "missing"' },
      ]),
    );
  });

  it('requires cheap and strong tiers for the complexity strategy', () => {
    const raw = base();
    Object.assign(raw.routes[0] as object, { strategy: 'complexity' });
    expect(issues(raw)[0]?.path).toBe('routes[0].backends');
  });
});
