// Runs every micro-benchmark in its own process pinned to the gateway core (idle once the gateways are
// stopped), each printing one JSON line. A failing micro-benchmark is recorded with its error output,
// never replaced by a number.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { GATEWAY_CORE } from '../procs.ts';
import { SLUICE_ENV, SLUICE_NODE_FLAGS } from '../targets.ts';
import type { ConfigSwapResult } from './config_swap.ts';
import type { EndpointPickResult } from './endpoint_pick.ts';
import type { LimiterRun } from './limiter.ts';

/** Output of bench/micro/tokenizers.ts (the policy engine's library comparison, reused as is). */
export interface TokenizersResult {
  encoding: string;
  disagreements: number;
  /** input label -> library -> µs per call */
  microsPerCall: Record<string, Record<string, number>>;
  rssMB: Record<string, number>;
}

/** Output of bench/micro/tokenize_event_loop.ts (the policy engine's benchmark, reused as is). */
export interface EventLoopRun {
  promptKB: number;
  rounds: number;
  results: Array<{
    scenario: string;
    p50Ms: number;
    p99Ms: number;
    maxMs: number;
    otherRequestLateP99Ms: number;
    wallMs: number;
  }>;
}

export interface MicroResults {
  tokenizers?: TokenizersResult;
  eventLoop?: EventLoopRun[];
  limiter?: LimiterRun[];
  configSwap?: ConfigSwapResult;
  endpointPick?: EndpointPickResult;
  errors: Record<string, string>;
}

/** `shipped`: run with the Node flags and environment the dataplane image ships (see targets.ts). */
function runJson<T>(script: string, args: string[], timeoutMs: number, shipped = false): Promise<T> {
  const flags = shipped ? SLUICE_NODE_FLAGS : [];
  return new Promise((resolve, reject) => {
    execFile(
      'taskset',
      ['-c', GATEWAY_CORE, process.execPath, ...flags, join(import.meta.dirname, script), ...args],
      {
        maxBuffer: 16 << 20,
        timeout: timeoutMs,
        env: shipped ? { ...process.env, ...SLUICE_ENV } : process.env,
      },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`${script}: ${err.message}\n${stderr.slice(-2000)}`));
        const line = stdout.trim().split('\n').at(-1) ?? '';
        try {
          resolve(JSON.parse(line) as T);
        } catch {
          reject(new Error(`${script} printed no JSON result:\n${stdout.slice(-2000)}`));
        }
      },
    );
  });
}

export async function runMicro(
  quick: boolean,
  log: (msg: string) => void,
  redisPort?: number,
): Promise<MicroResults> {
  const out: MicroResults = { errors: {} };
  const q = quick ? ['--quick'] : [];
  const attempt = async (name: string, fn: () => Promise<void>) => {
    log(`micro: ${name}`);
    try {
      await fn();
    } catch (err) {
      out.errors[name] = (err as Error).message;
      log(`micro: ${name} failed: ${(err as Error).message.split('\n')[0]}`);
    }
  };
  await attempt('tokenizers', async () => {
    out.tokenizers = await runJson<TokenizersResult>('tokenizers.ts', [], 600_000);
  });
  await attempt('eventLoop', async () => {
    out.eventLoop = [];
    for (const kb of [1, 32, 256]) {
      const rounds = quick ? '3' : kb === 256 ? '20' : '50';
      out.eventLoop.push(
        await runJson<EventLoopRun>(
          'tokenize_event_loop.ts',
          ['--kb', String(kb), '--rounds', rounds],
          600_000,
        ),
      );
    }
  });
  await attempt('limiter', async () => {
    out.limiter = await runJson<LimiterRun[]>(
      'limiter.ts',
      [...q, ...(redisPort ? ['--redis-port', String(redisPort)] : [])],
      300_000,
    );
    if (!redisPort)
      out.errors.limiter = 'no Redis was started for this run: only the memory store was measured';
  });
  await attempt('configSwap', async () => {
    out.configSwap = await runJson<ConfigSwapResult>('config_swap.ts', q, 600_000, true);
  });
  await attempt('endpointPick', async () => {
    out.endpointPick = await runJson<EndpointPickResult>('endpoint_pick.ts', q, 300_000, true);
  });
  return out;
}
