// The replica report both sides agree on: each dataplane replica keeps a coordination.k8s.io Lease
// (labelled REPLICA_LABEL) whose annotations say which config it serves; the operator watches them
// to tell, per object, whether every replica serves its current generation (Programmed).
export const REPLICA_LABEL = 'gateway.sluice.dev/replica-report';
/** the hash of the config the replica has loaded (also on the rendered ConfigMap) */
export const CONFIG_HASH_ANNOTATION = 'gateway.sluice.dev/config-hash';
/** the operator's revision of that config (the config's `revision` field) */
export const CONFIG_REVISION_ANNOTATION = 'gateway.sluice.dev/config-revision';
export const LEASE_PREFIX = 'sluice-dataplane-';

/** Kubernetes MicroTime: RFC 3339 with exactly six fractional digits. */
export function microTime(d = new Date()): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
