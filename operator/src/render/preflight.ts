// The schema and reference checks are not all the dataplane does when it loads a config: it also
// reads every secret file, parses API-key lists and JWT keys and compiles the policy gate. A config
// that passes validation but fails there would be refused by every replica (which keeps serving its
// old config), so before anything is written the operator loads the rendered config with the
// dataplane's own compiler, its secrets laid out in a private temp folder and the store forced to
// memory (no connections): the contract's LoadCheck, kept across renders by the operator (so a change
// to one route loads about one route; see loadable.ts for why the verdict is still a fresh load's).
// Objects whose entries fail are rejected and the render repeats; a failure that names no entry is
// traced to the tenant object behind it (isolate.ts), or fails the render when the platform's is.
import { loadableIssues, type SluiceConfig } from '../../../dataplane/src/config/contract.ts';
import { overflowOf, shedOverflow } from './budget.ts';
import { culpritOf, unattributed } from './isolate.ts';
import { blame, RenderError, type RenderResult, render } from './render.ts';
import { StatusText } from './status_text.ts';
import { escalateDeny } from './tenants.ts';
import type { Inventory, Problem, RenderOptions } from './types.ts';

/** render(), then preflight: what this returns, a replica loads. */
export async function renderChecked(inv: Inventory, opts: RenderOptions): Promise<RenderResult> {
  const rejected = new Map<string, Problem>();
  const objects = inv.providers.length + inv.routes.length + 3 * inv.namespaces.length + inv.policies.length;
  for (let round = 0; round <= objects; round++) {
    const result = render(inv, opts, rejected);
    if (!result.config) return result;
    const data = result.secretData;
    const load = (config: SluiceConfig) =>
      opts.reuse ? opts.reuse.preflight.issues(config, data) : loadableIssues(config, data);
    const issues = await load(result.config);
    if (issues.length === 0) {
      // loadable, but it must also fit the ConfigMap and Secret (budget.ts)
      const over = overflowOf(result, opts.reuse?.secretEncoding);
      if (!over || shedOverflow(over, rejected) === 0) return result;
      continue;
    }
    const before = rejected.size;
    const stray = unattributed(issues, result.owners);
    const text = new StatusText(data, result.owners);
    if (stray.length > 0) {
      const culprit = await culpritOf(result.config, result.owners, load);
      // an exception's message is anyone's text (the paths are the dataplane's own): scrubbed for
      // the reader, the tenant or, when the platform's part fails, the operator's log (status_text.ts)
      const what = (scrub: (message: string) => string) =>
        stray.map((i) => `${i.path || '(root)'}: ${scrub(i.message)}`).join('; ');
      // the platform's part (providers, routes, base config) fails on its own: fail closed
      if (!culprit) throw new RenderError(`rendered config cannot be loaded: ${what((m) => text.redact(m))}`);
      if (!escalateDeny(culprit, rejected))
        rejected.set(culprit, {
          path: 'spec',
          message: `a dataplane replica cannot load it: ${what((m) => text.for(culprit, m)).slice(0, 500)}`,
        });
    }
    blame(
      issues.filter((i) => !stray.includes(i)),
      result.owners,
      rejected,
      text,
    );
    if (rejected.size === before) return result; // nothing more to blame: write it and let status say why
  }
  return render(inv, opts, rejected);
}
