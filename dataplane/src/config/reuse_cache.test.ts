// A load with a warm ReuseCache must be a fresh load: the same config byte for byte (so the same
// hash), the same issues when an entry or a key file went bad (the cache still holding its good
// version), the same clash of one key in two tenants, and the same compiled behaviour; and it must
// really skip the unchanged work and hold only what the last two loads used.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compileRuntime, type Runtime } from '../compiled/compile.ts';
import { ProviderRegistry } from '../compiled/provider_runtime.ts';
import { policyGateFactory } from '../policy/gate.ts';
import { configHash } from './hash.ts';
import { ConfigError, type ConfigIssue, validateConfig } from './load.ts';
import { ReuseCache } from './reuse_cache.ts';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const dir = mkdtempSync(join(tmpdir(), 'sluice-reuse-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const keysFile = (tenant: string, n: number, from = 0) =>
  JSON.stringify(
    Array.from({ length: n }, (_, k) => ({ name: `k${k}`, sha256: sha(`${tenant}-${k + from}`) })),
  );

function config(models: Record<number, string> = {}): Record<string, unknown> {
  return {
    server: { port: 0, secretsDir: dir },
    providers: [
      {
        name: 'p',
        type: 'openai',
        baseUrl: 'http://127.0.0.1:9',
        credentials: { apiKey: { file: 'p.key' } },
      },
    ],
    routes: Array.from({ length: 200 }, (_, i) => ({
      name: `r-${i}`,
      match: { models: [models[i] ?? `m-${i}`] },
      backends: [{ provider: 'p' }],
    })),
    namespaces: ['a', 'b'].map((t) => ({ name: t, match: { apiKeysFile: `${t}.json` }, policies: [] })),
  };
}

function outcome(validate: () => unknown): { json: string; hash: string } | { issues: ConfigIssue[] } {
  try {
    const cfg = validate() as Parameters<typeof configHash>[0];
    return { json: JSON.stringify(cfg), hash: configHash(cfg) };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return { issues: err.issues };
  }
}

async function load(raw: unknown, cache?: ReuseCache, state = new ProviderRegistry()): Promise<Runtime> {
  cache?.rotate();
  const cfg = validateConfig(raw, 'config', cache);
  return compileRuntime(cfg, { configDir: dir, state, gateFactory: policyGateFactory(), env: {}, cache });
}

async function loadIssues(raw: unknown, cache?: ReuseCache): Promise<ConfigIssue[]> {
  try {
    const rt = await load(raw, cache);
    await rt.gate.close?.();
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
}

describe('ReuseCache', () => {
  it('validates to the same config and issues as a fresh load, change after change', () => {
    const cache = new ReuseCache();
    const steps: Array<Record<string, unknown>> = [
      config(),
      config({ 5: 'changed' }),
      config({ 5: 'changed', 7: 'also' }),
      // the entry changed to something invalid: its good version is in the cache, the issue is reported
      config({ 5: 'changed', 7: '' }),
      config({ 5: 'changed' }),
    ];
    const dup = config();
    (dup.routes as unknown[]).push({ name: 'r-3', match: {}, backends: [{ provider: 'p' }] });
    steps.push(dup);
    for (const raw of steps) {
      cache.rotate();
      const fresh = outcome(() => validateConfig(structuredClone(raw)));
      expect(outcome(() => validateConfig(structuredClone(raw), 'config', cache))).toEqual(fresh);
    }
    const bad = outcome(() => validateConfig(structuredClone(steps[3]), 'config', cache));
    expect(bad).toHaveProperty('issues');
  });

  it('parses only the entries whose text changed', () => {
    const cache = new ReuseCache();
    cache.rotate();
    validateConfig(config(), 'config', cache);
    const missesBefore = cache.misses;
    cache.rotate();
    validateConfig(config({ 9: 'new' }), 'config', cache);
    expect(cache.misses - missesBefore).toBe(1);
  });

  it('keeps what the last two loads used, nothing older', () => {
    const cache = new ReuseCache();
    cache.rotate();
    cache.set('a', 1);
    cache.rotate();
    cache.set('b', 2);
    cache.rotate();
    expect(cache.get('b')).toBe(2); // the last load's
    expect(cache.get('a')).toBeUndefined(); // the one before it
  });

  it('re-reads a key file that changed, and still refuses one key in two tenants', async () => {
    writeFileSync(join(dir, 'p.key'), 'sk-upstream');
    writeFileSync(join(dir, 'a.json'), keysFile('a', 300));
    writeFileSync(join(dir, 'b.json'), keysFile('b', 300));
    const cache = new ReuseCache();
    expect(await loadIssues(config(), cache)).toEqual([]);
    // b now lists one of a's keys: the cached tables of a and b must not hide the clash
    const clash = JSON.parse(keysFile('b', 300)) as Array<{ name: string; sha256: string }>;
    clash.push({ name: 'stolen', sha256: sha('a-7') });
    writeFileSync(join(dir, 'b.json'), JSON.stringify(clash));
    const issues = await loadIssues(config(), cache);
    expect(issues).toEqual(await loadIssues(config()));
    expect(issues[0]?.message).toMatch(/key "stolen" is also listed by namespace "a"/);
    // a key file that stopped parsing is refused though its last good text is cached
    writeFileSync(join(dir, 'b.json'), '[{"name": "x", "sha256": "not-hex"}]');
    expect(await loadIssues(config(), cache)).toEqual(await loadIssues(config()));
    expect((await loadIssues(config(), cache))[0]?.path).toBe('namespaces[1].match.apiKeysFile[0]');
    writeFileSync(join(dir, 'b.json'), keysFile('b', 300));
    expect(await loadIssues(config(), cache)).toEqual([]);
  });

  it('keeps the compiled routes whose entry and providers are unchanged, compiles the changed one', async () => {
    writeFileSync(join(dir, 'p.key'), 'sk-upstream');
    writeFileSync(join(dir, 'a.json'), keysFile('a', 10));
    writeFileSync(join(dir, 'b.json'), keysFile('b', 10));
    const cache = new ReuseCache();
    const state = new ProviderRegistry();
    const first = await load(config(), cache, state);
    const second = await load(config({ 4: 'moved' }), cache, state);
    expect(second.routes[3]).toBe(first.routes[3]);
    expect(second.routes[4]).not.toBe(first.routes[4]);
    expect(second.routes[4]?.matchesModel('moved')).toBe(true);
    expect(second.routes[4]?.matchesModel('m-4')).toBe(false);
    expect(second.hash).toBe((await load(config({ 4: 'moved' }))).hash);
    // a provider that changed (a new origin is a new runtime): every route using it is compiled again
    const moved = config({ 4: 'moved' });
    (moved.providers as Array<Record<string, unknown>>)[0] = {
      ...(moved.providers as Array<Record<string, unknown>>)[0],
      baseUrl: 'http://127.0.0.1:10',
    };
    const third = await load(moved, cache, state);
    expect(third.routes[3]).not.toBe(second.routes[3]);
    expect(third.routes[3]?.balancer).not.toBe(second.routes[3]?.balancer);
    for (const rt of [first, second, third]) await rt.gate.close?.();
    await state.closeAll();
  });
});
