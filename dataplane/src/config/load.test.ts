import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify } from 'yaml';
import { COMPRESSED_MARKER, ConfigError, parseConfigText, validateConfig } from './load.ts';

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
  access: 'open',
  providers: [{ name: 'p', type: 'openai', credentials: { apiKey: { env: 'K' } } }],
  routes: [{ name: 'r', backends: [{ provider: 'p' }] }],
});

describe('config validation', () => {
  it('refuses an interval or delay longer than a timer can hold, naming the field', () => {
    // Node fires a longer timer after 1 ms: a 1000-hour health interval would probe every millisecond
    const hours1000 = 1000 * 3600 * 1000;
    const raw = base() as Record<string, unknown> & { providers: Array<Record<string, unknown>> };
    (raw.providers[0] as Record<string, unknown>).healthCheck = { intervalMs: hours1000 };
    (raw.routes as Array<Record<string, unknown>>)[0] = {
      name: 'r',
      backends: [{ provider: 'p' }],
      retry: { maxDelayMs: hours1000 },
    };
    raw.server = { drainTimeoutMs: hours1000 };
    const found = issues(raw);
    expect(found.map((i) => i.path)).toEqual(
      expect.arrayContaining([
        'providers[0].healthCheck.intervalMs',
        'routes[0].retry.maxDelayMs',
        'server.drainTimeoutMs',
      ]),
    );
    expect(found[0]?.message).toMatch(/at most 2147483647 ms/);
    // the longest a timer holds is accepted
    (raw.providers[0] as Record<string, unknown>).healthCheck = { intervalMs: 2 ** 31 - 1 };
    (raw.routes as Array<Record<string, unknown>>)[0] = { name: 'r', backends: [{ provider: 'p' }] };
    raw.server = { drainTimeoutMs: 2 ** 31 - 1 };
    expect(issues(raw)).toEqual([]);
  });

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

function parseIssues(text: string, source: string): Array<{ path: string; message: string }> {
  try {
    parseConfigText(text, source);
  } catch (err) {
    if (err instanceof ConfigError) {
      expect(err.message.startsWith(`${source}: invalid config`)).toBe(true);
      return err.issues;
    }
    throw err;
  }
  return [];
}

describe('config parsing (parser chosen by content)', () => {
  const ROOT = join(import.meta.dirname, '../../..');

  it('reads JSON with JSON.parse whatever the file is called, the same value YAML would give', () => {
    const cfg = { ...base(), server: { port: 9000, host: '0.0.0.0' } };
    const pretty = `\n  ${JSON.stringify(cfg, null, 2)}\n`;
    expect(parseConfigText(pretty, 'config.yaml')).toEqual(cfg);
    expect(parseConfigText(JSON.stringify(cfg), 'no-extension')).toEqual(cfg);
    expect(parseConfigText(`\ufeff${JSON.stringify(cfg)}`, 'bom.yaml')).toEqual(cfg);
    // YAML parsers read the same text to the same value: JSON is YAML
    expect(parseYaml(pretty)).toEqual(cfg);
  });

  it('goes by content, not by file name: YAML in a .json file is read as YAML', () => {
    expect(parseConfigText('providers: []\nroutes: []\n', 'config.json')).toEqual({
      providers: [],
      routes: [],
    });
  });

  it('keeps hand-written YAML working exactly as before, flow style included', () => {
    for (const file of [
      'config/quickstart.yaml',
      'config/examples/providers.yaml',
      'config/examples/tenants.yaml',
    ]) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      expect(parseConfigText(text, file)).toEqual(parseYaml(text));
    }
    // YAML flow style starts with "{" but is not JSON: still read by the YAML parser
    expect(parseConfigText('{providers: [{name: p, type: mock}], routes: []}', 'flow.yaml')).toEqual({
      providers: [{ name: 'p', type: 'mock' }],
      routes: [],
    });
    expect(parseConfigText('# a comment\n{"a": 1}', 'c.yaml')).toEqual({ a: 1 });
  });

  it('reports a broken JSON config with the source and the position of the mistake', () => {
    const text = '{\n  "providers": [],\n  "routes": []\n  "namespaces": []\n}\n';
    const issues = parseIssues(text, '/etc/sluice/config/config.yaml');
    expect(issues).toHaveLength(1);
    expect(issues[0]?.path).toBe('');
    expect(issues[0]?.message).toMatch(/^cannot parse: invalid JSON: .*position 38 \(line 4 column 3\)/);
  });

  it("reports broken YAML with the YAML parser's message, as before", () => {
    const issues = parseIssues('providers:\n  - name: p\n   type: mock\n', 'c.yaml');
    expect(issues).toHaveLength(1);
    expect(issues[0]?.message).toMatch(/^cannot parse: .*line 3/);
  });

  it("undoes the operator's compression before choosing the parser", async () => {
    const { gzipSync } = await import('node:zlib');
    const cfg = base();
    for (const text of [JSON.stringify(cfg), stringify(cfg)]) {
      const packed = `${COMPRESSED_MARKER}\n${gzipSync(text).toString('base64')}\n`;
      expect(parseConfigText(packed, 'config.yaml')).toEqual(cfg);
    }
  });
});
