// Would a replica load this config? The schema and reference checks are not all the dataplane does
// when it loads a config: it also reads every secret file, parses API-key lists and JWT keys and
// compiles the policy gate. This runs the dataplane's own compiler over the config with its secrets
// laid out in a private temp folder and the store forced to memory (no connections), and returns the
// problems a replica would refuse it for. Part of the contract (contract.ts): the operator calls it
// before writing anything, so what it writes, a replica loads.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileRuntime, type Runtime } from '../compiled/compile.ts';
import { ProviderRegistry } from '../compiled/provider_runtime.ts';
import { policyGateFactory } from '../policy/gate.ts';
import { ConfigError, type ConfigIssue } from './load.ts';
import type { SluiceConfig } from './schema.ts';

/** Load `config` the way a dataplane replica would; returns the problems it would refuse it for. */
export async function loadableIssues(
  config: SluiceConfig,
  secretData: Record<string, string>,
): Promise<ConfigIssue[]> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-preflight-'));
  const state = new ProviderRegistry();
  let runtime: Runtime | undefined;
  try {
    await Promise.all(
      Object.entries(secretData).map(([k, v]) => writeFile(join(dir, k), v, { mode: 0o600 })),
    );
    const probe: SluiceConfig = {
      ...config,
      server: { ...config.server, secretsDir: dir },
      store: { type: 'memory' },
    };
    runtime = await compileRuntime(probe, {
      configDir: dir,
      state,
      gateFactory: policyGateFactory(),
      env: {},
    });
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    return [{ path: '', message: err instanceof Error ? err.message : String(err) }];
  } finally {
    await runtime?.gate.close?.().catch(() => {});
    await state.closeAll();
    await rm(dir, { recursive: true, force: true });
  }
}
