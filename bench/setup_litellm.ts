// The LiteLLM proxy for the comparison lives in a venv under .cache/ (gitignored), created on first use:
// python3 -m venv, then uv (from PyPI) installs litellm[proxy] at a pinned version with the one override
// in bench/litellm-overrides.txt. Every step's failure is reported with its output, never papered over.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const VENV = resolve(import.meta.dirname, '..', '.cache', 'bench-venv');
/** newest release whose whole dependency set the reachable index serves (1.109.x needs a missing extra) */
export const LITELLM_VERSION = '1.108.7';

export type LitellmSetup = { ok: true; version: string; python: string } | { ok: false; reason: string };

let cached: LitellmSetup | undefined;

function run(cmd: string, args: string[], timeoutMs: number): string {
  return execFileSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
}

function installed(): { version: string; python: string } | undefined {
  const py = join(VENV, 'bin', 'python');
  if (!existsSync(join(VENV, 'bin', 'litellm'))) return undefined;
  try {
    const out = run(
      py,
      [
        '-c',
        "import importlib.metadata as m, platform; print(m.version('litellm'), platform.python_version())",
      ],
      60_000,
    ).trim();
    const [version = '', python = ''] = out.split(' ');
    return version === LITELLM_VERSION ? { version, python } : undefined;
  } catch {
    return undefined;
  }
}

export function ensureLitellm(log: (msg: string) => void = () => {}): LitellmSetup {
  if (cached) return cached;
  const have = installed();
  if (have) {
    cached = { ok: true, ...have };
    return cached;
  }
  const step = (what: string, cmd: string, args: string[], timeoutMs: number) => {
    log(`litellm setup: ${what}`);
    try {
      run(cmd, args, timeoutMs);
    } catch (err) {
      const e = err as { stderr?: string; stdout?: string; message: string };
      throw new Error(`${what} failed: ${e.message}\n${(e.stderr ?? '').slice(-3000)}`);
    }
  };
  try {
    mkdirSync(resolve(VENV, '..'), { recursive: true });
    if (!existsSync(join(VENV, 'bin', 'python')))
      step('create venv', 'python3', ['-m', 'venv', VENV], 120_000);
    if (!existsSync(join(VENV, 'bin', 'uv')))
      step(
        'install uv',
        join(VENV, 'bin', 'pip'),
        ['install', '-q', '--disable-pip-version-check', 'uv'],
        300_000,
      );
    step(
      `install litellm[proxy]==${LITELLM_VERSION} (large: ~650 MB)`,
      join(VENV, 'bin', 'uv'),
      [
        'pip',
        'install',
        '--python',
        join(VENV, 'bin', 'python'),
        '--override',
        resolve(import.meta.dirname, 'litellm-overrides.txt'),
        `litellm[proxy]==${LITELLM_VERSION}`,
      ],
      1_200_000,
    );
  } catch (err) {
    cached = { ok: false, reason: (err as Error).message };
    return cached;
  }
  const now = installed();
  cached = now
    ? { ok: true, ...now }
    : { ok: false, reason: 'litellm installed but its version check failed' };
  return cached;
}
