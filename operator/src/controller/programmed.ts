// Programmed, per object: every live dataplane replica serves a config that contains the object's
// current generation. The rendered config lists, per object, the revision since which its current
// generation has been in every config (revision.ts); each replica's Lease carries the revision it
// serves (dataplane/src/k8s/lease_reporter.ts). So the object is Programmed when every live Lease
// (renewTime + leaseDurationSeconds in the future) carries a revision at or past that one. A change
// to one object moves only that object's revision, so no other object's Programmed changes.
import { CONFIG_HASH_ANNOTATION, CONFIG_REVISION_ANNOTATION } from '../../../kube/replica_lease.ts';
import type { Verdict } from '../render/types.ts';

export interface LeaseObject {
  metadata: { name?: string; annotations?: Record<string, string> };
  spec?: { holderIdentity?: string; renewTime?: string | Date; leaseDurationSeconds?: number };
}

export interface ReplicaState {
  replica: string;
  hash: string;
  /** the operator revision of the config it serves; undefined = a config not rendered by an operator */
  revision: number | undefined;
  live: boolean;
}

function revisionOf(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d{1,15}$/.test(text)) return undefined;
  return Number(text);
}

export function replicaStates(leases: readonly LeaseObject[], now = Date.now()): ReplicaState[] {
  return leases
    .map((l) => {
      const renew = l.spec?.renewTime ? new Date(l.spec.renewTime).getTime() : 0;
      const duration = (l.spec?.leaseDurationSeconds ?? 0) * 1000;
      return {
        replica: l.spec?.holderIdentity ?? l.metadata.name ?? '?',
        hash: l.metadata.annotations?.[CONFIG_HASH_ANNOTATION] ?? '',
        revision: revisionOf(l.metadata.annotations?.[CONFIG_REVISION_ANNOTATION]),
        live: renew + duration > now,
      };
    })
    .sort((a, b) => (a.replica < b.replica ? -1 : 1));
}

/** The live replicas, computed once per evaluation and shared by every object's verdict. */
export function liveReplicas(replicas: readonly ReplicaState[]): ReplicaState[] {
  return replicas.filter((r) => r.live);
}

/**
 * The Programmed verdict of one object whose generation `generation` entered the config at revision
 * `since`. The messages name no config hash or replica count: those change with every render or
 * scale-out, and a message that changes is a status write on every object.
 */
export function objectProgrammed(generation: number, since: number, live: readonly ReplicaState[]): Verdict {
  if (live.length === 0)
    return {
      ok: false,
      reason: 'NoReplicas',
      message: `no live dataplane replica reports a loaded config (generation ${generation} is in config revision ${since})`,
    };
  const behind = live.filter((r) => r.revision === undefined || r.revision < since);
  if (behind.length === 0)
    return {
      ok: true,
      reason: 'Programmed',
      message: `every live dataplane replica serves generation ${generation}`,
    };
  const names = behind.map((r) => `${r.replica} (revision ${r.revision ?? 'none'})`).join(', ');
  return {
    ok: false,
    reason: 'Pending',
    message: `generation ${generation} is in config revision ${since}; waiting for ${names}`,
  };
}
