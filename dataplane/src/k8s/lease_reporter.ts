// Tells the operator which config this replica serves: one coordination.k8s.io Lease per replica
// (named after the pod), renewed while the process lives, carrying the hash of the config it has
// loaded and the operator's revision of it in annotations. An object is Programmed when every live
// (unexpired) replica Lease carries a revision at or past the one that brought the object's current
// generation (the rendered config lists that revision per object; see the operator's programmed.ts).
// The Lease is deleted on shutdown and owned by the Pod, so a replica that goes away stops counting
// at once or, if killed, when the Lease expires.
import type { Logger } from 'pino';
// our own credentials loader, not @kubernetes/client-node: see kube_credentials.ts for why
import { type LoadOptions, loadKubeCredentials } from '../../../kube/kube_credentials.ts';
import { isConflict, isNotFound, KubeRest } from '../../../kube/kube_rest.ts';
import {
  CONFIG_HASH_ANNOTATION,
  CONFIG_REVISION_ANNOTATION,
  LEASE_PREFIX,
  microTime,
  REPLICA_LABEL,
} from '../../../kube/replica_lease.ts';

export interface LeaseReporterOptions {
  rest: KubeRest;
  namespace: string;
  podName: string;
  /** the Pod's UID, to make the Pod own the Lease (garbage collected with it) */
  podUid?: string;
  leaseDurationSeconds?: number;
  log: Logger;
}

interface Lease {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  metadata: Record<string, unknown> & { resourceVersion?: string; annotations?: Record<string, string> };
  spec: Record<string, unknown>;
}

export class LeaseReporter {
  readonly #o: Required<Omit<LeaseReporterOptions, 'podUid'>> & { podUid?: string };
  readonly #name: string;
  #hash = '';
  #revision: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  #chain: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(opts: LeaseReporterOptions) {
    this.#o = { leaseDurationSeconds: 15, ...opts };
    this.#name = (LEASE_PREFIX + opts.podName)
      .slice(0, 253)
      .replace(/[^a-z0-9.-]/g, '-')
      .replace(/[-.]+$/, '');
  }

  get leaseName(): string {
    return this.#name;
  }

  /** Report a newly loaded config now (Dataplane's onLoaded), then keep renewing. */
  report(hash: string, revision?: number): void {
    this.#hash = hash;
    this.#revision = revision;
    this.#enqueue();
    if (!this.#timer && !this.#stopped) {
      // renew well inside the lease duration so one missed renewal does not expire it
      this.#timer = setInterval(() => this.#enqueue(), (this.#o.leaseDurationSeconds * 1000) / 3);
      this.#timer.unref();
    }
  }

  /** Resolves when every report so far has been attempted (tests and shutdown). */
  flush(): Promise<void> {
    return this.#chain;
  }

  #enqueue(): void {
    if (this.#stopped) return;
    this.#chain = this.#chain.then(() =>
      this.#renew().catch((err: unknown) =>
        this.#o.log.warn({ err, lease: this.#name }, 'cannot renew replica lease'),
      ),
    );
  }

  #path(name?: string): string {
    const base = `/apis/coordination.k8s.io/v1/namespaces/${this.#o.namespace}/leases`;
    return name ? `${base}/${name}` : base;
  }

  #annotations(current: Record<string, string> = {}): Record<string, string> {
    const out: Record<string, string> = { ...current, [CONFIG_HASH_ANNOTATION]: this.#hash };
    if (this.#revision === undefined) delete out[CONFIG_REVISION_ANNOTATION];
    else out[CONFIG_REVISION_ANNOTATION] = String(this.#revision);
    return out;
  }

  #desired(current?: Lease): Lease {
    const now = microTime();
    const spec = current?.spec ?? {};
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        ...(current?.metadata ?? {}),
        name: this.#name,
        namespace: this.#o.namespace,
        labels: { ...((current?.metadata.labels as Record<string, string>) ?? {}), [REPLICA_LABEL]: 'true' },
        annotations: this.#annotations(current?.metadata.annotations),
        ...(this.#o.podUid
          ? {
              ownerReferences: [
                { apiVersion: 'v1', kind: 'Pod', name: this.#o.podName, uid: this.#o.podUid },
              ],
            }
          : {}),
      },
      spec: {
        ...spec,
        holderIdentity: this.#o.podName,
        leaseDurationSeconds: this.#o.leaseDurationSeconds,
        acquireTime: spec.acquireTime ?? now,
        renewTime: now,
      },
    };
  }

  async #renew(): Promise<void> {
    const { rest } = this.#o;
    for (let attempt = 0; attempt < 3; attempt++) {
      let current: Lease | undefined;
      try {
        current = await rest.request<Lease>('GET', this.#path(this.#name));
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      try {
        if (current) await rest.request('PUT', this.#path(this.#name), { body: this.#desired(current) });
        else await rest.request('POST', this.#path(), { body: this.#desired() });
        return;
      } catch (err) {
        // someone else changed it between read and write (or created it): read again
        if (!isConflict(err)) throw err;
      }
    }
  }

  /** Stop renewing and delete the Lease, so this replica no longer counts. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    await this.#chain;
    await this.#o.rest.request('DELETE', this.#path(this.#name)).catch((err: unknown) => {
      if (!isNotFound(err)) this.#o.log.warn({ err, lease: this.#name }, 'cannot delete replica lease');
    });
  }
}

/**
 * Build a reporter from the environment: POD_NAME and POD_NAMESPACE (downward API), optional POD_UID,
 * and KUBECONFIG, ~/.kube/config or in-cluster credentials (kube_credentials.ts). Throws when the
 * pod identity is missing or the credentials cannot be loaded.
 */
export function leaseReporterFromEnv(
  log: Logger,
  env: NodeJS.ProcessEnv = process.env,
  credentials: Omit<LoadOptions, 'env'> = {},
): LeaseReporter {
  const podName = env.POD_NAME;
  const namespace = env.POD_NAMESPACE;
  if (!podName || !namespace)
    throw new Error('--report-lease needs POD_NAME and POD_NAMESPACE (set them with the downward API)');
  const auth = loadKubeCredentials({ ...credentials, env });
  const duration = env.SLUICE_LEASE_DURATION_SECONDS ? Number(env.SLUICE_LEASE_DURATION_SECONDS) : undefined;
  return new LeaseReporter({
    rest: new KubeRest(auth),
    namespace,
    podName,
    podUid: env.POD_UID,
    log,
    ...(duration && Number.isInteger(duration) && duration > 0 ? { leaseDurationSeconds: duration } : {}),
  });
}
