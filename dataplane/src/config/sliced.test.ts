// validateConfigSliced (the dataplane's hot reload) must be validateConfig (the CLI and the operator)
// run in slices: the same config, byte for byte (the config hash depends on it), or the same issues in
// the same order — and between its slices the event loop really gets turns.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { configHash } from './hash.ts';
import { ConfigError, type ConfigIssue, validateConfig, validateConfigSliced } from './load.ts';
import { Slicer } from './steps.ts';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

function bigConfig(namespaces: number, keysPerNamespace: number): Record<string, unknown> {
  return {
    server: { port: 0 },
    providers: [
      { name: 'p', type: 'mock' },
      { name: 'q', type: 'openai', baseUrl: 'http://127.0.0.1:9', credentials: { apiKey: { env: 'K' } } },
    ],
    routes: Array.from({ length: 300 }, (_, i) => ({
      name: `r-${i}`,
      match: { models: [`m-${i}`, `m-${i}-*`], headers: [{ name: 'x-t', in: ['a', 'b'] }] },
      strategy: i % 2 ? 'least-outstanding' : 'weighted-random',
      backends: [{ provider: 'p', weight: 2 }, { provider: 'q' }],
      fallback: [{ provider: 'q', model: 'x' }],
    })),
    namespaces: Array.from({ length: namespaces }, (_, n) => ({
      name: `ns-${n}`,
      match: {
        apiKeys: Array.from({ length: keysPerNamespace }, (_, k) => ({
          name: `k-${n}-${k}`,
          sha256: sha(`${n}-${k}`),
        })),
      },
      policies: ['std'],
      routes: n % 3 ? undefined : ['r-1', 'r-2'],
    })),
    policies: [{ name: 'std', requests: { limit: 10, window: 'minute' }, contentFilters: [] }],
  };
}

function edit(target: unknown, path: string, value: unknown): void {
  const keys = path.split('.');
  let at = target as Record<string, unknown>;
  for (const k of keys.slice(0, -1)) at = at[k] as Record<string, unknown>;
  at[keys.at(-1) as string] = value;
}

async function outcome(
  validate: () => unknown,
): Promise<{ ok: true; json: string; hash: string } | { ok: false; issues: ConfigIssue[]; message: string }> {
  try {
    const cfg = (await validate()) as Parameters<typeof configHash>[0];
    return { ok: true, json: JSON.stringify(cfg), hash: configHash(cfg) };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return { ok: false, issues: err.issues, message: err.message };
  }
}

async function expectSameOutcome(raw: unknown): Promise<void> {
  const sync = await outcome(() => validateConfig(structuredClone(raw), 'c.yaml'));
  const sliced = await outcome(() => validateConfigSliced(structuredClone(raw), 'c.yaml', new Slicer(0)));
  expect(sliced).toEqual(sync);
}

describe('validateConfigSliced', () => {
  it('returns the very config validateConfig returns (same defaults, key order and hash)', async () => {
    await expectSameOutcome(bigConfig(400, 3));
    // long inline key lists are validated in slices of their own
    await expectSameOutcome(bigConfig(3, 1_000));
    await expectSameOutcome({
      providers: [{ name: 'p', type: 'mock' }],
      routes: [{ name: 'r', backends: [{ provider: 'p' }] }],
    });
  });

  it('reports the same issues, paths, messages and order included', async () => {
    // [path, value] edits of a good config
    const cases: Array<Array<[string, unknown]>> = [
      // entries of several lists at once, in the order zod reports them
      [
        ['routes.250.strategy', 'fastest'],
        ['routes.3.backends.0.weight', -1],
        ['providers.1.typo', true],
        ['namespaces.42.match.apiKeys.2.sha256', 'NOT-HEX'],
        ['namespaces.7.name', 'Bad Name'],
        ['policies.0.requests.window', 'fortnight'],
      ],
      // a bad key in a long, sliced key list, next to other problems of the same namespace
      [
        ['namespaces.1.match.apiKeys.999.sha256', 'x'],
        ['namespaces.1.default', 'yes'],
        ['namespaces.1.models', 'gpt-4o'],
        ['namespaces.2.match.apiKeys.5', { name: 'k' }],
      ],
      // the top level: unknown keys, a bad server section, an empty list, next to entry problems
      [
        ['bogus', 1],
        ['server.port', 'eighty'],
        ['routes.0.name', ''],
      ],
      [
        ['routes', []],
        ['providers.0.type', 7],
      ],
      // cross-references and policy rules (checked after the schema)
      [
        ['routes.5.backends.0.provider', 'ghost'],
        ['namespaces.9.policies', ['nope']],
        ['namespaces.10.name', 'ns-11'],
      ],
      [['policies.0.contentFilters', [{ name: 'f', pattern: '(unclosed' }]]],
    ];
    for (const [i, edits] of cases.entries()) {
      const raw = bigConfig(i === 1 ? 3 : 60, i === 1 ? 1_000 : 3);
      for (const [path, value] of edits) edit(raw, path, value);
      const sync = await outcome(() => validateConfig(structuredClone(raw), 'c.yaml'));
      expect(sync.ok, `case ${i}`).toBe(false);
      if (!sync.ok) expect(sync.issues.length, `case ${i}`).toBeGreaterThanOrEqual(edits.length);
      const sliced = await outcome(() => validateConfigSliced(structuredClone(raw), 'c.yaml', new Slicer(0)));
      expect(sliced, `case ${i}`).toEqual(sync);
    }
    const notAnObject = await outcome(() => validateConfigSliced('providers', 'c.yaml', new Slicer(0)));
    expect(notAnObject).toEqual(await outcome(() => validateConfig('providers', 'c.yaml')));
  });

  it('keeps the issue paths users know, e.g. namespaces[42].match.apiKeys[2].sha256', async () => {
    const raw = bigConfig(60, 3);
    edit(raw, 'namespaces.42.match.apiKeys.2.sha256', 'NOT-HEX');
    const r = await outcome(() => validateConfigSliced(raw, 'c.yaml', new Slicer(0)));
    expect(r).toEqual({
      ok: false,
      issues: [
        { path: 'namespaces[42].match.apiKeys[2].sha256', message: 'must be a lowercase hex SHA-256 digest' },
      ],
      message:
        'c.yaml: invalid config\n  namespaces[42].match.apiKeys[2].sha256: must be a lowercase hex SHA-256 digest',
    });
  });

  it('gives the event loop turns between its slices', async () => {
    const raw = bigConfig(400, 3);
    let turns = 0;
    const tick = () => {
      turns++;
      if (!done) immediate = setImmediate(tick);
    };
    let done = false;
    let immediate = setImmediate(tick);
    const slicer = new Slicer(0);
    await validateConfigSliced(raw, 'c.yaml', slicer);
    done = true;
    clearImmediate(immediate);
    // one pause per entry at least (300 routes, 400 namespaces), and the loop ran meanwhile
    expect(slicer.pauses).toBeGreaterThan(700);
    expect(turns).toBeGreaterThan(700);

    // run in one go, nothing else gets a turn
    turns = 0;
    done = false;
    immediate = setImmediate(tick);
    validateConfig(raw, 'c.yaml');
    expect(turns).toBe(0);
    done = true;
    clearImmediate(immediate);
  });
});
