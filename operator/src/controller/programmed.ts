// Programmed = the dataplane replicas actually serve the rendered config: every live replica Lease
// (renewTime + leaseDurationSeconds in the future) carries the rendered hash.
import { CONFIG_HASH_ANNOTATION } from '../../../dataplane/src/k8s/lease_reporter.ts';
import type { Verdict } from '../render/types.ts';

export interface LeaseObject {
  metadata: { name?: string; annotations?: Record<string, string> };
  spec?: { holderIdentity?: string; renewTime?: string | Date; leaseDurationSeconds?: number };
}

export interface ReplicaState {
  replica: string;
  hash: string;
  live: boolean;
}

export function replicaStates(leases: readonly LeaseObject[], now = Date.now()): ReplicaState[] {
  return leases
    .map((l) => {
      const renew = l.spec?.renewTime ? new Date(l.spec.renewTime).getTime() : 0;
      const duration = (l.spec?.leaseDurationSeconds ?? 0) * 1000;
      return {
        replica: l.spec?.holderIdentity ?? l.metadata.name ?? '?',
        hash: l.metadata.annotations?.[CONFIG_HASH_ANNOTATION] ?? '',
        live: renew + duration > now,
      };
    })
    .sort((a, b) => (a.replica < b.replica ? -1 : 1));
}

/** The Programmed verdict for a config hash ('' = nothing rendered). */
export function programmedVerdict(expectedHash: string, replicas: readonly ReplicaState[]): Verdict {
  if (!expectedHash) return { ok: false, reason: 'NoConfig', message: 'no dataplane config is rendered' };
  const live = replicas.filter((r) => r.live);
  if (live.length === 0)
    return {
      ok: false,
      reason: 'NoReplicas',
      message: `no live dataplane replica reports a loaded config (waiting for config ${expectedHash})`,
    };
  const behind = live.filter((r) => r.hash !== expectedHash);
  if (behind.length === 0)
    return {
      ok: true,
      reason: 'Programmed',
      message: `all ${live.length} live dataplane replicas serve config ${expectedHash}`,
    };
  const names = behind.map((r) => `${r.replica} (${r.hash || 'none'})`).join(', ');
  return {
    ok: false,
    reason: 'Pending',
    message: `${live.length - behind.length} of ${live.length} live dataplane replicas serve config ${expectedHash}; waiting for ${names}`,
  };
}
