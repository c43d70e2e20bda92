// Starting dataplanes for tests: in-process (fast, for most suites) or as a real `sluice serve`
// process (for reload, drain and multi-replica suites). Configs are written to a temp folder; the
// process variant learns its port from the "listening" log line (it listens on port 0).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { stringify } from 'yaml';
import { Dataplane } from '../../dataplane/src/dataplane.ts';
import { recordProcessLogs, testLogger } from './logging.ts';

export const REPO_ROOT = resolve(import.meta.dirname, '../..');
export const NODE_BIN = join(REPO_ROOT, 'node_modules/.bin/node');

export interface TestConfigDir {
  dir: string;
  file: string;
  /** replace the config atomically (write + rename), as an editor or the operator would */
  write(config: unknown): void;
  cleanup(): void;
}

/**
 * Most suites test routing, not tenancy, and write configs with no namespaces. A real config must say
 * `access: open` for that (an absent `access` with no namespaces is refused, see config/tenancy.ts);
 * test configs given as objects get it here unless they set `access` or list namespaces. Suites that
 * test access itself set it explicitly; configs given as text are written exactly as they are.
 */
export function openByDefault(cfg: unknown): unknown {
  if (typeof cfg !== 'object' || cfg === null || Array.isArray(cfg)) return cfg;
  const c = cfg as Record<string, unknown>;
  if ('access' in c || (Array.isArray(c.namespaces) && c.namespaces.length > 0)) return cfg;
  return { access: 'open', ...c };
}

export function configDir(config: unknown, name = 'config.yaml'): TestConfigDir {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-test-'));
  const file = join(dir, name);
  let n = 0;
  const write = (cfg: unknown) => {
    const tmp = join(dir, `.tmp-${n++}`);
    writeFileSync(tmp, typeof cfg === 'string' ? cfg : stringify(openByDefault(cfg)));
    renameSync(tmp, file);
  };
  write(config);
  return { dir, file, write, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface InProcessDataplane {
  url: string;
  baseURL: string;
  /** the admin port: /metrics and the detailed /readyz */
  adminUrl: string;
  dataplane: Dataplane;
  config: TestConfigDir;
  stop(): Promise<void>;
}

/** `log`: a suite that reads its own log lines passes its logger (the shared log folder is the suite's). */
export async function startDataplane(
  config: unknown,
  log: Logger = testLogger(),
): Promise<InProcessDataplane> {
  const cfg = configDir(config);
  const dataplane = new Dataplane({
    configFile: cfg.file,
    log,
    host: '127.0.0.1',
    port: 0,
    adminPort: 0,
  });
  const address = await dataplane.start();
  return {
    url: address,
    baseURL: `${address}/v1`,
    adminUrl: dataplane.adminAddress,
    dataplane,
    config: cfg,
    async stop() {
      await dataplane.stop();
      cfg.cleanup();
    },
  };
}

/** Write a new config and wait until the dataplane serves it (its hash moved); throws after 5 s. */
export async function reloadTo(dp: InProcessDataplane, cfg: unknown): Promise<void> {
  const before = dp.dataplane.runtime.hash;
  dp.config.write(cfg);
  for (let i = 0; i < 100 && dp.dataplane.runtime.hash === before; i++)
    await new Promise((r) => setTimeout(r, 50));
  if (dp.dataplane.runtime.hash === before) throw new Error('the dataplane did not load the new config');
}

export interface DataplaneProcess {
  url: string;
  baseURL: string;
  /** the admin port: /metrics and the detailed /readyz (any free port unless extraArgs name one) */
  adminUrl: string;
  child: ChildProcess;
  logs: string[];
  /** resolves with the exit code */
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Spawn `sluice serve --config FILE --port 0 [...extraArgs]` with Node 24 and wait until it listens. */
export async function spawnDataplane(
  configFile: string,
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 20_000,
  port = 0,
  extraArgs: string[] = [],
  /** a command that execs the dataplane, e.g. ['taskset', '-c', '1'] (test/hostile pins replicas) */
  launcher: string[] = [],
): Promise<DataplaneProcess> {
  const [command = NODE_BIN, ...prefix] = launcher.length ? launcher : [NODE_BIN];
  const child = spawn(
    command,
    [
      ...(launcher.length ? [...prefix, NODE_BIN] : []),
      join(REPO_ROOT, 'bin/sluice.js'),
      'serve',
      '--config',
      configFile,
      '--port',
      String(port),
      '--host',
      '127.0.0.1',
      ...(extraArgs.includes('--admin-port') ? [] : ['--admin-port', '0']),
      ...extraArgs,
    ],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, SLUICE_LOG_LEVEL: 'debug', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const logs: string[] = [];
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  let adminUrl = '';
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`dataplane did not start in ${timeoutMs} ms:\n${logs.join('')}`)),
      timeoutMs,
    );
    let buf = '';
    child.stdout?.on('data', (d: Buffer) => {
      buf += d.toString();
      let i = buf.indexOf('\n');
      while (i >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        logs.push(`${line}\n`);
        if (line.includes('sluice dataplane listening')) {
          clearTimeout(timer);
          const listening = JSON.parse(line) as { address: string; adminAddress: string };
          adminUrl = listening.adminAddress;
          resolveUrl(listening.address);
        }
        i = buf.indexOf('\n');
      }
    });
    child.stderr?.on('data', (d: Buffer) => logs.push(d.toString()));
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`dataplane exited with ${code} before listening:\n${logs.join('')}`));
    });
  });
  return {
    url,
    baseURL: `${url}/v1`,
    adminUrl,
    child,
    logs,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(killer);
      recordProcessLogs(`dataplane-${child.pid}`, logs);
      return code;
    },
  };
}

/** A config with one route over the given providers, for tests. */
export function simpleConfig(
  providers: unknown[],
  route: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return { providers, routes: [{ name: 'main', ...route }], ...extra };
}

export function openaiProvider(
  name: string,
  baseUrl: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return { name, type: 'openai', baseUrl, credentials: { apiKey: { env: 'SLUICE_TEST_KEY' } }, ...extra };
}
