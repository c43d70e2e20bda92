// Namespaces and policies are compiled once per load: validation compiles them (to reject bad rules)
// and the policy gate built from the same config object reuses that work instead of redoing it.
import { describe, expect, it } from 'vitest';
import { ConfigError, validateConfig, validateConfigSliced } from '../config/load.ts';
import { Slicer } from '../config/steps.ts';
import { compileNamespaces } from './compile.ts';

const raw = (pattern = 'secret-\\d+') => ({
  providers: [{ name: 'p', type: 'mock' }],
  routes: [{ name: 'r', backends: [{ provider: 'p' }] }],
  namespaces: [
    { name: 'a', policies: ['filters'], models: ['gpt-*'] },
    { name: 'b', routes: ['r'] },
  ],
  policies: [{ name: 'filters', contentFilters: [{ name: 'f', pattern }] }],
});

describe('compiled namespaces', () => {
  it('are compiled by validation and reused for the same config object', async () => {
    for (const cfg of [validateConfig(raw()), await validateConfigSliced(raw(), 'c', new Slicer(0))]) {
      const first = compileNamespaces(cfg);
      expect(compileNamespaces(cfg)).toBe(first);
      expect(first.get('a')?.modelAllowed('gpt-4o')).toBe(true);
      expect(first.get('a')?.modelAllowed('claude')).toBe(false);
      expect(first.get('a')?.policies[0]?.filters[0]?.re.test('secret-42')).toBe(true);
      expect(first.get('b')?.routeAllowed('r')).toBe(true);
      expect(first.get('b')?.routeAllowed('other')).toBe(false);
    }
    // another config (even an equal one) is compiled on its own
    expect(compileNamespaces(validateConfig(raw()))).not.toBe(compileNamespaces(validateConfig(raw())));
  });

  it('a bad rule fails every time it is compiled (failures are not remembered as results)', () => {
    const cfg = validateConfig(raw());
    const broken = {
      ...cfg,
      policies: [{ ...cfg.policies[0]!, contentFilters: [{ name: 'f', pattern: '(' }] }],
    };
    for (let i = 0; i < 2; i++) {
      const err = (() => {
        try {
          compileNamespaces(broken);
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).issues[0]?.path).toBe('policies[0].contentFilters[0].pattern');
    }
  });
});
