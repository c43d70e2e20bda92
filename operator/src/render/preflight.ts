// The schema and reference checks are not all the dataplane does when it loads a config: it also
// reads every secret file, parses API-key lists and JWT keys and compiles the policy gate. A config
// that passes validation but fails there would be refused by every replica (which keeps serving its
// old config), so before anything is written the operator loads the rendered config with the
// dataplane's own compiler, its secrets laid out in a private temp folder and the store forced to
// memory (no connections). Objects whose entries fail are rejected and the render repeats.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, type ConfigIssue } from '../../../dataplane/src/config/load.ts';
import type { SluiceConfig } from '../../../dataplane/src/config/schema.ts';
import { policyGateFactory } from '../../../dataplane/src/policy/gate.ts';
import { compileRuntime, type Runtime } from '../../../dataplane/src/runtime/compile.ts';
import { ProviderStateCache } from '../../../dataplane/src/runtime/provider_runtime.ts';
import { blame, type RenderResult, render } from './render.ts';
import type { Inventory, Problem, RenderOptions } from './types.ts';

/** Load `config` the way a dataplane replica would; returns the problems it would refuse it for. */
export async function preflight(
  config: SluiceConfig,
  secretData: Record<string, string>,
): Promise<ConfigIssue[]> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-preflight-'));
  const state = new ProviderStateCache();
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

/** render(), then preflight: what this returns, a replica loads. */
export async function renderChecked(inv: Inventory, opts: RenderOptions): Promise<RenderResult> {
  const rejected = new Map<string, Problem>();
  const objects = inv.providers.length + inv.routes.length + 3 * inv.namespaces.length + inv.policies.length;
  for (let round = 0; round <= objects; round++) {
    const result = render(inv, opts, rejected);
    if (!result.config) return result;
    const issues = await preflight(result.config, result.secretData);
    if (issues.length === 0) return result;
    const before = rejected.size;
    blame(issues, result.owners, rejected);
    if (rejected.size === before) return result; // nothing more to blame: write it and let status say why
  }
  return render(inv, opts, rejected);
}
