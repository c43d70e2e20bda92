// Would a replica load this config? The schema and reference checks are not all the dataplane does
// when it loads a config: it also reads every secret file, parses API-key lists and JWT keys and
// compiles the policy gate. This runs the dataplane's own compiler over the config with its secrets
// laid out in a private temp folder and the store forced to memory (no connections), and returns the
// problems a replica would refuse it for. Part of the contract (contract.ts): the operator calls it
// before writing anything, so what it writes, a replica loads.
//
// A LoadCheck is kept across checks, as a replica keeps its runtime across reloads: the folder holds
// exactly the last check's secret files (only changed ones are rewritten, removed ones deleted), and
// the compiler reuses key tables and compiled routes whose input is unchanged (reuse_cache.ts), so a
// check after a one-route change costs about one route. The verdict is a fresh load's: the reuse is
// keyed by exact input, and every check across entries runs over the whole config each time.
import { rmSync } from 'node:fs';
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileRuntime, type Runtime } from '../compiled/compile.ts';
import { ProviderRegistry } from '../compiled/provider_runtime.ts';
import { policyGateFactory } from '../policy/gate.ts';
import { ConfigError, type ConfigIssue } from './load.ts';
import { ReuseCache } from './reuse_cache.ts';
import type { SluiceConfig } from './schema.ts';

/**
 * Folders of open checks, removed when the process exits by any path (the operator's CLI exits at
 * once when it loses leadership, without waiting for its workers to close): they hold credentials.
 */
const openDirs = new Set<string>();
let exitHook = false;
function track(dir: string): void {
  openDirs.add(dir);
  if (exitHook) return;
  exitHook = true;
  process.on('exit', () => {
    for (const d of openDirs) rmSync(d, { recursive: true, force: true });
  });
}

export class LoadCheck {
  #dir: string | undefined;
  /** what each file in the folder holds, as last written */
  readonly #written = new Map<string, string>();
  readonly #reuse = new ReuseCache();
  /** provider runtimes kept across checks as a replica keeps them (none contacts anything here) */
  readonly #state = new ProviderRegistry();

  /** Load `config` the way a dataplane replica would; returns the problems it would refuse it for. */
  async issues(config: SluiceConfig, secretData: Record<string, string>): Promise<ConfigIssue[]> {
    let runtime: Runtime | undefined;
    try {
      const dir = await this.#sync(secretData);
      const probe: SluiceConfig = {
        ...config,
        server: { ...config.server, secretsDir: dir },
        store: { type: 'memory' },
      };
      this.#reuse.rotate();
      runtime = await compileRuntime(probe, {
        configDir: dir,
        state: this.#state,
        gateFactory: policyGateFactory(),
        env: {},
        cache: this.#reuse,
      });
      await this.#state.prune(new Set(runtime.providers.values()));
      return [];
    } catch (err) {
      if (err instanceof ConfigError) return err.issues;
      return [{ path: '', message: err instanceof Error ? err.message : String(err) }];
    } finally {
      await runtime?.gate.close?.().catch(() => {});
    }
  }

  /** Make the folder hold exactly `data`. After a failed write nothing is assumed: all is rewritten. */
  async #sync(data: Record<string, string>): Promise<string> {
    if (!this.#dir) {
      this.#dir = await mkdtemp(join(tmpdir(), 'sluice-preflight-'));
      track(this.#dir);
    }
    const dir = this.#dir;
    try {
      for (const name of [...this.#written.keys()])
        if (!(name in data)) {
          this.#written.delete(name);
          await unlink(join(dir, name));
        }
      for (const [name, text] of Object.entries(data)) {
        if (this.#written.get(name) === text) {
          // the same text, perhaps a new copy of it: hold the caller's, not a second copy
          this.#written.set(name, text);
          continue;
        }
        this.#written.delete(name);
        await writeFile(join(dir, name), text, { mode: 0o600 });
        this.#written.set(name, text);
      }
    } catch (err) {
      await this.close();
      throw err;
    }
    return dir;
  }

  /** Remove the folder (it holds provider credentials). The next check starts a new one. */
  async close(): Promise<void> {
    const dir = this.#dir;
    this.#dir = undefined;
    this.#written.clear();
    await this.#state.closeAll();
    if (!dir) return;
    await rm(dir, { recursive: true, force: true });
    openDirs.delete(dir);
  }
}

/** One check with nothing kept (`sluice render`, tests). */
export async function loadableIssues(
  config: SluiceConfig,
  secretData: Record<string, string>,
): Promise<ConfigIssue[]> {
  const check = new LoadCheck();
  try {
    return await check.issues(config, secretData);
  } finally {
    await check.close();
  }
}
