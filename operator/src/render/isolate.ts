// A replica may refuse a config for a reason that names no entry: the preflight (loadable.ts) turns
// anything thrown while loading that is not a ConfigError into an issue with an empty path, and
// blame() could only throw for it, so nothing was written for anyone until the cause went away.
// When the cause is one tenant's AINamespace or AIPolicy (the kinds a tenant admin writes, with the
// Secrets they read), that let one tenant freeze every other tenant's config.
//
// So such an issue is traced to an object by loading parts of the same rendered config: without
// any AINamespace or AIPolicy first (the issue persists: it is the platform's providers, routes or
// base config, and the render still fails closed), then ever longer prefixes of the policy list,
// then of the tenant list, in halves. Prefixes keep every entry at its index and every reference
// of a tenant to a policy resolved. About 2 log2(n) loads, only when such an issue occurs.
import type { ConfigIssue, SluiceConfig } from '../../../dataplane/src/config/contract.ts';
import { ownerOf, type RenderResult } from './render.ts';

export type LoadIssues = (config: SluiceConfig) => Promise<ConfigIssue[]>;

/** Issues that name no object's entry. */
export function unattributed(issues: readonly ConfigIssue[], owners: RenderResult['owners']): ConfigIssue[] {
  return issues.filter((i) => ownerOf(i.path, owners) === undefined);
}

/**
 * The AINamespace or AIPolicy whose entry makes `config` unloadable for a reason that names no
 * entry, or undefined when the config fails that way without any of them (the platform's part).
 */
export async function culpritOf(
  config: SluiceConfig,
  owners: RenderResult['owners'],
  load: LoadIssues,
): Promise<string | undefined> {
  const fails = async (namespaces: number, policies: number) => {
    const part = {
      ...config,
      namespaces: config.namespaces.slice(0, namespaces),
      policies: config.policies.slice(0, policies),
    };
    return unattributed(await load(part), owners).length > 0;
  };
  if (await fails(0, 0)) return undefined;
  const policies = config.policies.length;
  // the shortest failing prefix ends with the culprit (the later of two that fail only together)
  const shortest = async (n: number, failsWith: (k: number) => Promise<boolean>) => {
    let ok = 0;
    let bad = n;
    while (bad - ok > 1) {
      const mid = (ok + bad) >> 1;
      if (await failsWith(mid)) bad = mid;
      else ok = mid;
    }
    return bad;
  };
  if (policies > 0 && (await fails(0, policies)))
    return owners.policies[(await shortest(policies, (k) => fails(0, k))) - 1];
  const tenants = config.namespaces.length;
  if (tenants === 0 || !(await fails(tenants, policies))) return undefined;
  return owners.namespaces[(await shortest(tenants, (k) => fails(k, policies))) - 1];
}
