// Hostile conditions for multi-replica limit tests: N `sluice serve` processes and their redis-server
// all pinned to ONE core (taskset) together with a process that does nothing but burn that core, so
// every process waits for the CPU the way a pod at its CPU limit does and event loops lag under a
// burst. Only PIDs started here are ever signalled; everything is torn down by PID in stop().
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import OpenAI from 'openai';
import {
  configDir,
  type DataplaneProcess,
  spawnDataplane,
  type TestConfigDir,
} from '../helpers/dataplane.ts';
import { type RedisServer, startRedis } from '../helpers/redis.ts';

/** How many times each scenario repeats: `npm run test:hostile` sets 10, the default suite fewer. */
export const RUNS = Math.max(1, Number(process.env.HOSTILE_RUNS ?? 2));

export interface Hostile {
  redis: RedisServer;
  replicas: DataplaneProcess[];
  config: TestConfigDir;
  core: number;
  /** pin redis-server again (its PID changes when it restarts) */
  pinRedis(): void;
  /** the replica for the i-th request: round robin, as a Service spreads connections */
  replica(i: number): DataplaneProcess;
  stop(): Promise<void>;
}

export interface HostileOptions {
  /** the dataplane config, given the Redis URL */
  config(redisUrl: string): Record<string, unknown>;
  replicas?: number;
  /** false: no burner (to compare); default true */
  burn?: boolean;
}

function pin(pid: number | undefined, core: number): void {
  if (pid === undefined) return;
  // -a: every thread (libuv pool, workers) of the process, not only its main thread
  execFileSync('taskset', ['-a', '-cp', String(core), String(pid)], { stdio: 'ignore' });
}

/** A process that burns one core: a busy neighbour on the same CPU. */
function startBurner(core: number): ChildProcess {
  const child = spawn('taskset', ['-c', String(core), process.execPath, '-e', 'for (;;) {}'], {
    stdio: 'ignore',
  });
  process.once('exit', () => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  return child;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGKILL');
  await exited;
}

/** Ready means /readyz 200; bounded wait. */
export async function waitReady(url: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const r = await fetch(`${url}/readyz`).catch(() => undefined);
    await r?.arrayBuffer();
    if (r?.status === 200) return;
    await sleep(100);
  }
  throw new Error(`${url} did not become ready in ${timeoutMs} ms`);
}

/** The store mode a replica reports ('shared', 'local-fallback', 'unavailable'); `url` is its admin port's. */
export async function storeMode(url: string): Promise<string | undefined> {
  const r = await fetch(`${url}/readyz`).catch(() => undefined);
  const body = r
    ? ((await r.json().catch(() => undefined)) as Record<string, unknown> | undefined)
    : undefined;
  const policy = body?.policy as { store?: { mode?: string } } | undefined;
  return policy?.store?.mode;
}

export async function waitMode(url: string, mode: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await storeMode(url)) === mode) return;
    await sleep(100);
  }
  throw new Error(`${url} did not report store mode '${mode}' within ${timeoutMs} ms`);
}

export async function startHostile(opts: HostileOptions): Promise<Hostile> {
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
  } catch {
    throw new Error('taskset is not installed: it comes with util-linux (apt-get install -y util-linux)');
  }
  const core = availableParallelism() - 1;
  const redis = await startRedis();
  pin(redis.pid(), core);
  const burner = opts.burn === false ? undefined : startBurner(core);
  const config = configDir(opts.config(redis.url));
  const n = opts.replicas ?? 3;
  const replicas: DataplaneProcess[] = [];
  try {
    for (let i = 0; i < n; i++)
      replicas.push(
        await spawnDataplane(
          config.file,
          { SLUICE_LOG_LEVEL: 'info' },
          90_000,
          0,
          [],
          ['taskset', '-c', String(core)],
        ),
      );
    await Promise.all(replicas.map((r) => waitReady(r.url)));
  } catch (err) {
    await Promise.all(replicas.map((r) => r.stop('SIGKILL')));
    if (burner) await stopChild(burner);
    await redis.kill();
    config.cleanup();
    throw err;
  }
  return {
    redis,
    replicas,
    config,
    core,
    pinRedis: () => pin(redis.pid(), core),
    replica: (i) => replicas[i % replicas.length] as DataplaneProcess,
    async stop() {
      await Promise.all(replicas.map((r) => r.stop()));
      if (burner) await stopChild(burner);
      await redis.stop();
      config.cleanup();
    },
  };
}

export interface Outcome {
  status: number;
  code?: string;
  promptTokens: number;
  completionTokens: number;
}

/** One chat completion through the official SDK; errors become their status and code. */
export async function chat(
  baseURL: string,
  apiKey: string,
  body: OpenAI.ChatCompletionCreateParamsNonStreaming,
): Promise<Outcome> {
  const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 60_000 });
  try {
    const r = await client.chat.completions.create(body);
    return {
      status: 200,
      promptTokens: r.usage?.prompt_tokens ?? 0,
      completionTokens: r.usage?.completion_tokens ?? 0,
    };
  } catch (err) {
    if (err instanceof OpenAI.APIError && err.status !== undefined)
      return {
        status: err.status,
        code: (err.error as { code?: string } | undefined)?.code,
        promptTokens: 0,
        completionTokens: 0,
      };
    throw err;
  }
}

/** `n` requests at once, spread round robin over the replicas. */
export function burst(h: Hostile, n: number, one: (baseURL: string, i: number) => Promise<Outcome>) {
  return Promise.all(Array.from({ length: n }, (_, i) => one(h.replica(i).baseURL, i)));
}

export const usageOf = (outs: Outcome[]) =>
  outs.reduce((sum, o) => sum + o.promptTokens + o.completionTokens, 0);

export function countBy(outs: Outcome[]): Record<string, number> {
  const by: Record<string, number> = {};
  for (const o of outs) {
    const k = o.code ? `${o.status} ${o.code}` : String(o.status);
    by[k] = (by[k] ?? 0) + 1;
  }
  return by;
}
