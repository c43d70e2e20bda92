// The first hour of a new user, as issue 17 found it on a fresh clone: the CLI on a too-old Node, a
// config whose credentials are unset, an inline key, and the process metrics' names.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { registry } from '../../dataplane/src/observability/metrics.ts';
import { NODE_BIN, REPO_ROOT } from '../helpers/dataplane.ts';

// Node 24 pretending to be Node 20: the same process, only process.versions.node changed before the
// entry point runs, so the check is exercised wherever the suite runs.
// Each test spawns the CLI (Node 24 stripping types at start) up to three times: on a loaded 2-core
// machine that alone has taken over 30 s, so the describes allow 120 s.
const PRETEND_NODE_20 = `data:text/javascript,Object.defineProperty(process.versions,'node',{value:'20.20.2'})`;

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'sluice-first-hour-'));
  dirs.push(d);
  return d;
}

/** A child environment without any of the examples' credential variables. */
function bareEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, ...extra };
}

function sluice(args: string[], opts: { env?: NodeJS.ProcessEnv; nodeArgs?: string[]; entry?: string } = {}) {
  return spawnSync(
    NODE_BIN,
    [...(opts.nodeArgs ?? []), opts.entry ?? join(REPO_ROOT, 'bin/sluice.js'), ...args],
    {
      encoding: 'utf8',
      cwd: REPO_ROOT,
      env: opts.env ?? bareEnv(),
      timeout: 110_000,
    },
  );
}

/** The machine's own `node` (outside node_modules/.bin), when it is older than 24. */
function olderSystemNode(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (!dir || dir.includes('node_modules')) continue;
    const bin = join(dir, 'node');
    const r = spawnSync(bin, ['-p', 'process.versions.node'], { encoding: 'utf8' });
    if (r.status === 0) return Number(r.stdout.split('.')[0]) < 24 ? bin : undefined;
  }
  return undefined;
}

describe('sluice on a Node older than 24', { timeout: 120_000 }, () => {
  it('bin/sluice.js names the Node it needs and how to get it, instead of ERR_UNKNOWN_FILE_EXTENSION', () => {
    const r = sluice(['validate', 'config/quickstart.yaml'], { nodeArgs: ['--import', PRETEND_NODE_20] });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('sluice needs Node.js 24 or newer; this is Node.js 20.20.2');
    expect(r.stderr).toContain('npm ci');
    expect(r.stderr).toContain('npx sluice <command>');
    expect(r.stderr).not.toContain('ERR_UNKNOWN_FILE_EXTENSION');
  });

  it('the compiled entry point (cli/main, run as dist/cli/main.js) stops before its dependencies load', () => {
    const r = sluice(['validate', 'config/quickstart.yaml'], {
      nodeArgs: ['--import', PRETEND_NODE_20],
      entry: join(REPO_ROOT, 'cli/main.ts'),
    });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('sluice needs Node.js 24 or newer');
  });

  it("with the machine's own older node, when it has one", (ctx) => {
    const old = olderSystemNode();
    if (!old) return ctx.skip();
    const r = spawnSync(old, ['bin/sluice.js', 'validate', 'config/quickstart.yaml'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^sluice needs Node\.js 24 or newer; this is Node\.js \d+\./);
  });

  it('a production install gets Node 24: `node` is an optional (installed by default) dependency, not a devDependency', async () => {
    const pkg = (await import('../../package.json', { with: { type: 'json' } })).default as {
      optionalDependencies?: Record<string, string>;
      devDependencies?: Record<string, string>;
      scripts: Record<string, string>;
    };
    expect(pkg.optionalDependencies?.node).toMatch(/^\^24\./);
    expect(pkg.devDependencies?.node).toBeUndefined();
    // npm start runs through npm, which puts node_modules/.bin (that Node 24) first on PATH
    expect(pkg.scripts.start).toMatch(/^node bin\/sluice\.js serve /);
  });
});

describe('credentials: every missing one at once', { timeout: 120_000 }, () => {
  it('validate says which credentials it did not check, and --check-credentials reports all 24 unset variables', () => {
    const plain = sluice(['validate', 'config/examples/providers.yaml']);
    expect(plain.status).toBe(0);
    expect(plain.stdout).toContain(
      'config/examples/providers.yaml: ok (24 credentials not checked; --check-credentials checks them)',
    );
    const checked = sluice(['validate', '--check-credentials', 'config/examples/providers.yaml']);
    expect(checked.status).toBe(1);
    const lines = checked.stderr.trim().split('\n');
    expect(lines).toHaveLength(24);
    expect(lines[0]).toBe(
      'config/examples/providers.yaml: providers[0].credentials.apiKey: environment variable OPENAI_API_KEY is not set',
    );
    expect(lines).toContain(
      'config/examples/providers.yaml: providers[4].credentials.secretAccessKey: environment variable AWS_SECRET_ACCESS_KEY is not set',
    );
  });

  it('--check-credentials passes when every variable is set and names an unreadable secret file', () => {
    const dir = tempDir();
    const file = join(dir, 'config.yaml');
    writeFileSync(join(dir, 'b-key'), 'sk-b\n');
    writeFileSync(
      file,
      stringify({
        access: 'open',
        providers: [
          { name: 'a', type: 'openai', credentials: { apiKey: { env: 'A_KEY' } } },
          { name: 'b', type: 'openai', credentials: { apiKey: { file: 'b-key' } } },
          { name: 'c', type: 'openai', credentials: { apiKey: { file: 'missing-key' } } },
        ],
        routes: [{ name: 'r', backends: [{ provider: 'a' }, { provider: 'b' }, { provider: 'c' }] }],
      }),
    );
    const r = sluice(['validate', '-C', file], { env: bareEnv({ A_KEY: 'sk-a' }) });
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe(
      `${file}: providers[2].credentials.apiKey: cannot read secret file ${join(dir, 'missing-key')}: ENOENT`,
    );
    writeFileSync(join(dir, 'missing-key'), 'sk-c\n');
    const ok = sluice(['validate', '-C', file], { env: bareEnv({ A_KEY: 'sk-a' }) });
    expect(ok.status).toBe(0);
    expect(ok.stdout.trim()).toBe(`${file}: ok (3 credentials checked)`);
  });

  it('serve reports every unset variable in its one failed load and exits 1', () => {
    const r = sluice(['serve', '--config', 'config/examples/providers.yaml', '--port', '0']);
    expect(r.status).toBe(1);
    const missing = r.stderr.match(/environment variable \w+ is not set/g) ?? [];
    expect(missing).toHaveLength(24);
    expect(new Set(missing).size).toBe(24);
  });
});

describe('schema messages a new user meets', { timeout: 120_000 }, () => {
  it('an inline key is told to use {env: …} or {file: …}', () => {
    const dir = tempDir();
    const file = join(dir, 'config.yaml');
    writeFileSync(
      file,
      stringify({
        access: 'open',
        providers: [{ name: 'openai', type: 'openai', credentials: { apiKey: 'sk-inline-123' } }],
        routes: [{ name: 'r', backends: [{ provider: 'openai' }] }],
      }),
    );
    const r = sluice(['validate', file]);
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe(
      `${file}: providers[0].credentials.apiKey: must be {env: VARIABLE} or {file: PATH}; secret values are never written inline in the config`,
    );
    expect(r.stderr).not.toContain('sk-inline-123');
  });
});

describe('process metrics', { timeout: 120_000 }, () => {
  it('carry the standard client-library names, not sluice_process_process_*', async () => {
    const text = await registry.metrics();
    for (const name of [
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'process_start_time_seconds',
      'nodejs_eventloop_lag_p99_seconds',
      'nodejs_heap_size_used_bytes',
    ])
      expect(text).toMatch(new RegExp(`^${name} `, 'm'));
    expect(text).not.toMatch(/sluice_process_/);
  });
});
