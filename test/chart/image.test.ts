// The container images without a Docker engine: read each Dockerfile, replay what it does on this
// machine and run the image's exact command.
//
//   build stage   `npm run build` (tsconfig.build.json) into a clean folder's dist/
//   deps stage    copy package.json + package-lock.json there and run the stage's own RUN line
//                 (`npm ci --omit=dev ...`)
//   runtime       make the folder read-only (readOnlyRootFilesystem), then start ENTRYPOINT + CMD
//                 from WORKDIR as the Dockerfile's USER (when the test runs as root, as CI does),
//                 with Node 24 standing in for the node:24 base image's node.
import { type ChildProcess, spawn } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, normalize, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { freePort } from '../helpers/redis.ts';
import { execForm, instructions, readDockerfile, stage } from './dockerfile.ts';
import { REPO_ROOT, run, runOk } from './helm.ts';

const NODE24 = join(REPO_ROOT, 'node_modules/.bin/node');
const DOCKERFILES = { dataplane: 'Dockerfile.dataplane', operator: 'Dockerfile.operator' } as const;
const DEV_ONLY = [
  'vitest',
  'typescript',
  '@biomejs/biome',
  'node',
  'openai',
  'fast-check',
  '@anthropic-ai/sdk',
];
const PROD = [
  'fastify',
  'undici',
  'zod',
  'ioredis',
  'prom-client',
  'pino',
  'yaml',
  '@kubernetes/client-node',
];

/** Non-test modules that only tests (or `npm run crds`) import: tsconfig.build.json and .dockerignore leave them out. */
const TEST_SUPPORT = [
  'dataplane/src/store/store_contract.js',
  'operator/src/render/test_fixtures.js',
  'operator/src/api/generate.js',
];

/**
 * Compiled modules with code that no path of imports reaches from `entry`: code only tests use. An edge is any
 * relative `.js` specifier in a module (static and dynamic imports, and worker URLs such as
 * `new URL(... './filter_worker.js', import.meta.url)`).
 */
async function unreachableModules(dist: string, entry: string): Promise<string[]> {
  const all = new Set<string>();
  for (const e of await readdir(dist, { withFileTypes: true, recursive: true }))
    if (e.isFile() && e.name.endsWith('.js')) all.add(relative(dist, join(e.parentPath, e.name)));
  const seen = new Set<string>();
  const todo = [entry];
  for (let f = todo.pop(); f !== undefined; f = todo.pop()) {
    if (seen.has(f) || !all.has(f)) continue;
    seen.add(f);
    const text = readFileSync(join(dist, f), 'utf8');
    for (const m of text.matchAll(/['"](\.\.?\/[^'"\n]+\.js)['"]/g))
      todo.push(normalize(join(dirname(f), m[1] as string)));
  }
  // a module of types only compiles to `export {};` (its importers' imports are elided): no code shipped
  const typesOnly = (f: string) =>
    readFileSync(join(dist, f), 'utf8')
      .replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, '')
      .trim() === 'export {};';
  return [...all].filter((f) => !seen.has(f) && !typesOnly(f)).sort();
}

function runtimeUser(file: string): { uid: number; gid: number } {
  const user = instructions(readDockerfile(join(REPO_ROOT, file)).stages.at(-1)!, 'USER');
  const m = /^(\d+):(\d+)$/.exec(user.at(-1) ?? '');
  if (!m) throw new Error(`${file}: USER must be numeric uid:gid, got ${user.at(-1)}`);
  return { uid: Number(m[1]), gid: Number(m[2]) };
}

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true }))
    if (e.isFile()) total += statSync(join(e.parentPath, e.name)).size;
  return total;
}

describe.each(Object.entries(DOCKERFILES))('%s Dockerfile', (_component, file) => {
  const df = readDockerfile(join(REPO_ROOT, file));
  const final = df.stages.at(-1)!;

  it('is multi-stage on node:24 slim with the build and production-deps steps', () => {
    expect(df.stages.map((s) => s.name)).toEqual(['build', 'deps', undefined]);
    for (const s of df.stages) expect(s.from).toMatch(/^node:24[-.\w]*slim$/);
    expect(instructions(stage(df, 'build'), 'RUN')).toContain('npm run build');
    expect(instructions(stage(df, 'deps'), 'RUN')).toEqual([expect.stringMatching(/^npm ci --omit=dev\b/)]);
  });

  it('ships only dist, production node_modules and package.json, as a non-root user, via exec form', () => {
    expect(instructions(final, 'COPY').sort()).toEqual(
      [
        '--from=build /src/dist ./dist',
        '--from=deps /app/node_modules ./node_modules',
        'package.json ./',
      ].sort(),
    );
    expect(runtimeUser(file).uid).toBeGreaterThan(0);
    expect(instructions(final, 'ENV')).toContain('NODE_ENV=production');
    const entry = execForm(final, 'ENTRYPOINT');
    expect(entry).toEqual(['node', 'dist/cli/main.js']);
    // npm at runtime would write to ~/.npm, which a read-only root filesystem forbids.
    expect([...entry, ...execForm(final, 'CMD')]).not.toContain('npm');
  });
});

it('the build context (.dockerignore) leaves out tests, test-support modules and nothing the build copies', () => {
  const lines = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  expect(lines).toContain('**/*.test.ts');
  for (const f of TEST_SUPPORT) expect(lines, f).toContain(f.replace(/\.js$/, '.ts'));
  // every folder a build stage COPYs is let back in after the leading `*`
  for (const file of Object.values(DOCKERFILES))
    for (const copy of instructions(stage(readDockerfile(join(REPO_ROOT, file)), 'build'), 'COPY')) {
      const sources = copy.split(/\s+/).slice(0, -1);
      for (const src of sources)
        expect(lines.includes(`!${src}`) || lines.includes(`!${src}/`), `${file}: COPY ${src}`).toBe(true);
    }
});

describe('image replay from a clean folder', () => {
  let root: string;
  let app: string;
  let asUser: { uid: number; gid: number } | undefined;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'sluice-image-'));
    chmodSync(root, 0o755);
    app = join(root, 'app');
    mkdirSync(app);
    // build stage: the project's build script, its output redirected into the clean folder
    await runOk('npm', ['run', 'build', '--', '--outDir', join(app, 'dist')], { timeoutMs: 120_000 });
    // deps stage: the manifests, then the stage's own RUN line, verbatim
    copyFileSync(join(REPO_ROOT, 'package.json'), join(app, 'package.json'));
    copyFileSync(join(REPO_ROOT, 'package-lock.json'), join(app, 'package-lock.json'));
    const depsRun = instructions(
      stage(readDockerfile(join(REPO_ROOT, DOCKERFILES.dataplane)), 'deps'),
      'RUN',
    );
    for (const cmd of depsRun) await runOk('sh', ['-c', cmd], { cwd: app, timeoutMs: 150_000 });
    // runtime stage copies only node_modules from deps, not the lock
    rmSync(join(app, 'package-lock.json'));
    asUser = process.getuid?.() === 0 ? runtimeUser(DOCKERFILES.dataplane) : undefined;
    // readOnlyRootFilesystem: nothing under the app folder may be written at runtime
    await runOk('chmod', ['-R', 'a-w,a+rX', app]);
  }, 300_000);

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    if (root) {
      await run('chmod', ['-R', 'u+w', root]);
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('ships no module that only tests import (store contract, render fixtures, the CRD generator)', async () => {
    const dist = join(app, 'dist');
    for (const f of TEST_SUPPORT) expect(existsSync(join(dist, f)), f).toBe(false);
    // and, in general: every module in dist/ is reachable from the entry point
    expect(await unreachableModules(dist, 'cli/main.js')).toEqual([]);
  });

  it('holds production dependencies only, and stays small', async () => {
    for (const dep of PROD) expect(existsSync(join(app, 'node_modules', dep)), dep).toBe(true);
    for (const dep of DEV_ONLY) expect(existsSync(join(app, 'node_modules', dep)), dep).toBe(false);
    expect(existsSync(join(app, 'dist/cli/main.js'))).toBe(true);
    expect(await dirBytes(join(app, 'node_modules'))).toBeLessThan(200 * 1024 * 1024);
  });

  function start(args: string[], env: NodeJS.ProcessEnv): { child: ChildProcess; output: () => string } {
    const child = spawn(NODE24, args, {
      cwd: app,
      env: { PATH: '/usr/bin:/bin', NODE_ENV: 'production', HOME: '/nonexistent', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(asUser ?? {}),
    });
    children.push(child);
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    return { child, output: () => out };
  }

  const exited = (child: ChildProcess) =>
    new Promise<number | null>((r) => {
      if (child.exitCode !== null) r(child.exitCode);
      else child.once('exit', (code) => r(code));
    });

  it('dataplane: the image CMD (`serve --config ...`) serves health, metrics and a chat completion, and drains on SIGTERM', async () => {
    const df = readDockerfile(join(REPO_ROOT, DOCKERFILES.dataplane));
    const entry = execForm(df.stages.at(-1)!, 'ENTRYPOINT');
    const cmd = execForm(df.stages.at(-1)!, 'CMD');
    expect(cmd).toEqual(['serve', '--config', '/etc/sluice/config/config.yaml']);
    // The config the chart mounts at /etc/sluice/config, here in a read-only folder of its own.
    const configDir = join(root, 'etc/sluice/config');
    mkdirSync(configDir, { recursive: true });
    const configFile = join(configDir, 'config.yaml');
    writeFileSync(
      configFile,
      stringify({
        access: 'open',
        server: { drainTimeoutMs: 5000 },
        providers: [
          { name: 'mock', type: 'mock', models: [{ name: 'mock-small' }], mock: { outputTokens: 5 } },
        ],
        routes: [{ name: 'default', match: { models: ['mock-small'] }, backends: [{ provider: 'mock' }] }],
      }),
    );
    await runOk('chmod', ['-R', 'a-w,a+rX', join(root, 'etc')]);
    const port = await freePort();
    const adminPort = await freePort();
    const args = [
      ...entry.slice(1),
      ...cmd.map((a) => (a === '/etc/sluice/config/config.yaml' ? configFile : a)),
    ];
    // HOST/PORT and ADMIN_HOST/ADMIN_PORT as the chart's Deployment sets them.
    const { child, output } = start(args, {
      HOST: '127.0.0.1',
      PORT: String(port),
      ADMIN_HOST: '127.0.0.1',
      ADMIN_PORT: String(adminPort),
      NODE_OPTIONS: '--max-semi-space-size=16 --max-old-space-size=256 --v8-pool-size=2',
      MALLOC_ARENA_MAX: '2',
    });
    const base = `http://127.0.0.1:${port}`;
    let healthy = false;
    for (let i = 0; i < 100 && !healthy && child.exitCode === null; i++) {
      healthy = await fetch(`${base}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
      if (!healthy) await new Promise((r) => setTimeout(r, 100));
    }
    expect(healthy, output()).toBe(true);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const admin = `http://127.0.0.1:${adminPort}`;
    expect((await fetch(`${admin}/readyz`)).status).toBe(200);
    if (asUser) {
      // The live process really runs as the image's non-root USER.
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      expect(/^Uid:\s+(\d+)/m.exec(status)?.[1]).toBe(String(asUser.uid));
      expect(asUser.uid).not.toBe(0);
    }
    const res = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'mock-small', messages: [{ role: 'user', content: 'hi' }] }),
    });
    const body = (await res.json()) as { object?: string; choices?: unknown[] };
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body.object).toBe('chat.completion');
    expect(body.choices).toHaveLength(1);
    // metrics on the admin port only
    expect(await (await fetch(`${admin}/metrics`)).text()).toContain('sluice_inflight_requests');
    expect((await fetch(`${base}/metrics`)).status).toBe(404);
    child.kill('SIGTERM');
    expect(await exited(child)).toBe(0);
    expect(output()).toContain('draining');
  }, 60_000);

  it('operator: the image CMD (`operator`) answers --help', async () => {
    const df = readDockerfile(join(REPO_ROOT, DOCKERFILES.operator));
    const entry = execForm(df.stages.at(-1)!, 'ENTRYPOINT');
    const cmd = execForm(df.stages.at(-1)!, 'CMD');
    expect(cmd).toEqual(['operator']);
    const { child, output } = start([...entry.slice(1), ...cmd, '--help'], {});
    expect(await exited(child), output()).toBe(0);
    expect(output()).toMatch(/usage: sluice operator/);
    expect(output()).toContain('--leader-elect');
  }, 30_000);
});
